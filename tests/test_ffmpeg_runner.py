"""The FFmpeg runner: real FFmpeg on generated media, no mocks."""

from __future__ import annotations

import logging
import shlex
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from preflight.model.errors import FFmpegError, FFmpegTimeoutError
from preflight.toolchain import runner

LAVFI = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=2"]


def test_run_writes_output_reports_progress_and_logs_argv(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "out.mp4"
    reports: list[runner.Progress] = []
    caplog.set_level(logging.INFO, logger="preflight.ffmpeg")
    args = [*LAVFI, "-c:v", "libx264", "-preset", "ultrafast", "-f", "mp4", "-y", str(out)]

    result = runner.run(args, duration=2.0, on_progress=reports.append)

    assert out.stat().st_size > 0
    assert list(result.argv) == runner.run_argv(args)
    assert result.argv[1:3] == ("-nostdin", "-hide_banner")
    assert reports
    assert reports[-1].fraction == pytest.approx(1.0)
    assert shlex.join(result.argv) in caplog.text


def test_failure_carries_argv_and_stderr_tail(tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    args = ["-i", runner.input_url(missing), "-f", "null", "-"]
    with pytest.raises(FFmpegError) as info:
        runner.run(args)
    assert info.value.argv == runner.run_argv(args)
    assert "missing.mp4" in info.value.stderr_tail
    assert "missing.mp4" in str(info.value)


def test_timeout_kills_the_child(tmp_path: Path) -> None:
    args = ["-re", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=60",
            "-f", "null", "-"]  # fmt: skip
    with pytest.raises(FFmpegTimeoutError) as info:
        runner.run(args, timeout=0.5)
    assert "0.5" in str(info.value)


def test_a_playlist_disguised_as_mp4_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for ffmpeg\n")
    evil = tmp_path / "evil.mp4"
    evil.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:{secret}\n#EXT-X-ENDLIST\n"
    )
    args = [*runner.input_args(evil), "-f", "null", "-"]
    with pytest.raises(FFmpegError) as info:
        runner.run(args)
    assert "Invalid data" in info.value.stderr_tail


@pytest.mark.parametrize("name", ["-y.mp4", "http:evil.mp4", "concat:a.mp4"])
def test_names_never_become_options_or_protocols(
    tmp_path: Path, media: Callable[[str], Path], name: str
) -> None:
    src = tmp_path / name
    shutil.copyfile(media("ok"), src)
    frames = list(runner.read_frames(src, width=32, height=18, fps=1, duration=2))
    assert len(frames) == 2
    assert runner.input_url(src) == f"file:{src}"


def test_read_frames_yields_whole_frames_in_display_orientation(
    media: Callable[[str], Path],
) -> None:
    frames = list(runner.read_frames(media("rotated"), width=18, height=32, fps=2, duration=2))
    assert len(frames) == 4
    assert all(len(f) == 18 * 32 * 3 for f in frames)


def test_closing_a_stream_early_kills_the_child(media: Callable[[str], Path]) -> None:
    frames = runner.read_frames(media("long"), width=64, height=36)
    first = next(frames)
    frames.close()  # type: ignore[attr-defined]
    assert len(first) == 64 * 36 * 3
    assert not runner._ACTIVE


def test_cancel_all_stops_a_running_encode() -> None:
    started = threading.Event()
    errors: list[BaseException] = []
    args = ["-re", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=60",
            "-f", "null", "-"]  # fmt: skip

    def work() -> None:
        try:
            runner.run(args, on_progress=lambda _: started.set())
        except FFmpegError as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    try:
        assert started.wait(timeout=30)
        runner.cancel_all()
        thread.join(timeout=30)
    finally:
        runner.reset_cancel()
    assert errors
    assert "cancelled" in str(errors[0])
    assert not runner._ACTIVE


def test_temp_output_moves_only_on_commit(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    with runner.TempOutput(target) as tmp:
        tmp.path.write_bytes(b"data")
    assert not target.exists()
    assert not tmp.path.exists()

    def fail_midway() -> None:
        with runner.TempOutput(target) as tmp:
            tmp.path.write_bytes(b"data")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    assert not target.exists()
    assert not tmp.path.exists()

    with runner.TempOutput(target) as tmp:
        tmp.path.write_bytes(b"data")
        tmp.commit()
    assert target.read_bytes() == b"data"
    assert not tmp.path.exists()
    assert tmp.path == runner.temp_path_for(target)
    assert tmp.path.parent == target.parent


def test_has_filters_knows_this_build() -> None:
    assert runner.has_filters("scale", "ssim")
    assert not runner.has_filters("no_such_filter_here")
