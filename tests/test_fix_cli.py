"""`preflight fix` on the command line: dry-run, exit codes, batches, JSON, and Ctrl-C."""

from __future__ import annotations

import json
import logging
import os
import pty
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _independent import assert_passes, read
from click.testing import CliRunner

from preflight.cli import main
from preflight.rules.profiles import load_profile
from preflight.toolchain.runner import temp_path_for

FAST = ["--preset", "ultrafast", "--no-quality"]


def dry_run_commands(output: str) -> list[list[str]]:
    return [shlex.split(line[4:]) for line in output.splitlines() if line.startswith("  $ ")]


def test_dry_run_prints_exactly_what_a_real_run_executes(
    media: Callable[[str], Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    ffprobe_bin: str,
) -> None:
    src = media("long")
    out = tmp_path / "out.mp4"
    runner = CliRunner()
    dry = runner.invoke(main, ["fix", str(src), "-o", str(out), "--dry-run", *FAST])
    assert dry.exit_code == 0, dry.output
    assert "trim to 9.96 s" in dry.output
    planned = dry_run_commands(dry.output)
    assert len(planned) == 1
    assert not out.exists()
    assert not temp_path_for(out).exists()

    caplog.set_level(logging.INFO, logger="preflight.ffmpeg")
    real = runner.invoke(main, ["fix", str(src), "-o", str(out), *FAST])
    assert real.exit_code == 0, real.output
    executed = [shlex.split(r.getMessage()[len("ffmpeg: ") :]) for r in caplog.records]
    assert executed == planned  # the same argv, temp output name included
    assert planned[0][-1] == f"file:{temp_path_for(out)}"
    assert_passes(read(ffprobe_bin, out), out, load_profile("kling-lipsync"))


def test_json_dry_run_lists_plans(media: Callable[[str], Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "fix",
            str(media("banner")),
            "--out-dir",
            str(tmp_path),
            "--dry-run",
            "--aspect",
            "crop",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)["plans"][0]
    assert plan["strategy"] == "reencode"
    assert plan["video"]["fit"] == "crop"
    assert plan["target"] == str(tmp_path / "banner_3000x600.mp4")
    assert plan["commands"][0][-1].endswith(".banner_3000x600.preflight-tmp.mp4")
    assert any("upscaled" in w for w in plan["warnings"])


def test_compliant_input_is_copied_byte_for_byte(
    media: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "same.mp4"
    result = CliRunner().invoke(main, ["fix", str(media("ok")), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "copied byte for byte" in result.output
    assert out.read_bytes() == media("ok").read_bytes()


def test_unfixable_input_exits_1_with_the_reason_and_no_file(tmp_path: Path) -> None:
    bad = tmp_path / "text.mp4"
    bad.write_text("not a video\n")
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(main, ["fix", str(bad), "-o", str(out)])
    assert result.exit_code == 1
    assert "unfixable" in result.output
    assert "not a media file" in result.output
    assert not out.exists()


def test_inputs_claiming_one_output_name_never_overwrite_each_other(
    media: Callable[[str], Path], tmp_path: Path, ffprobe_bin: str
) -> None:
    first, second = tmp_path / "take.mkv", tmp_path / "take.mp4"
    shutil.copyfile(media("mkv"), first)
    shutil.copyfile(media("lying"), second)  # Matroska inside: needs a fix too
    result = CliRunner().invoke(main, ["fix", str(first), str(second), "--jobs", "2"])
    assert result.exit_code == 1, result.output
    assert "writes the same output name" in result.output
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == ["take.fixed.mp4", "take.mkv", "take.mp4"]
    assert_passes(
        read(ffprobe_bin, tmp_path / "take.fixed.mp4"),
        tmp_path / "take.fixed.mp4",
        load_profile("kling-lipsync"),
    )
    assert second.read_bytes() == media("lying").read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        ["a.mp4", "b.mp4", "-o", "x.mp4"],
        ["a.mp4", "-o", "x.mp4", "--out-dir", "d"],
        ["a.mp4", "--start", "5", "--end", "3"],
        ["a.mp4", "--extend", "bounce"],
        ["a.mp4", "--profile", "no-such-profile"],
        [],
    ],
)
def test_usage_errors_exit_2(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["fix", *args])
    assert result.exit_code == 2, result.output


def test_batch_keeps_going_past_a_bad_input(
    media: Callable[[str], Path], tmp_path: Path, ffprobe_bin: str
) -> None:
    bad = tmp_path / "broken.mkv"
    bad.write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 100)
    out_dir = tmp_path / "out"
    inputs = [str(media("mkv")), str(bad), str(media("ok")), str(media("short"))]
    result = CliRunner().invoke(
        main, ["fix", *inputs, "--out-dir", str(out_dir), "--jobs", "2", "--format", "json", *FAST]
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    statuses = [r["status"] for r in report["results"]]
    assert statuses == ["fixed", "unfixable", "skipped", "fixed"]
    assert report["summary"] == {"fixed": 2, "unfixable": 1, "skipped": 1, "total": 4}
    assert sorted(p.name for p in out_dir.iterdir()) == ["h264.mp4", "short_1s.mp4"]
    profile = load_profile("kling-lipsync")
    for path in out_dir.iterdir():
        assert_passes(read(ffprobe_bin, path), path, profile)


def test_text_summary(media: Callable[[str], Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["fix", str(media("mkv")), "--out-dir", str(tmp_path), *FAST])
    assert result.exit_code == 0, result.output
    assert "container: matroska -> mp4" in result.output
    assert "summary: 1 fixed (1 inputs): all pass" in result.output


def _read_until(fd: int, marker: bytes, deadline: float) -> bytes:
    seen = b""
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} within the time limit; got {seen[-500:]!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


def test_ctrl_c_mid_encode_leaves_nothing_and_says_so(
    media: Callable[[str], Path], tmp_path: Path
) -> None:
    src = tmp_path / "in.mp4"
    shutil.copyfile(media("uhd"), src)
    before = src.read_bytes()
    out = tmp_path / "out.mp4"
    master, slave = pty.openpty()  # stderr on a terminal: the progress bar is drawn
    proc = subprocess.Popen(
        [sys.executable, "-m", "preflight", "fix", str(src), "-o", str(out), "--preset", "slow"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=tmp_path,
    )
    os.close(slave)
    try:
        shown = _read_until(master, b"ETA", time.monotonic() + 120)
        assert b"%" in shown
        os.kill(proc.pid, signal.SIGINT)
        rest = _read_until(master, b"no output file was written", time.monotonic() + 60)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        os.close(master)
    assert b"interrupted" in rest
    assert b"Traceback" not in shown + rest
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]  # no temp left behind
    assert src.read_bytes() == before


def test_check_fix_checks_then_fixes_the_failing_inputs(
    media: Callable[[str], Path], tmp_path: Path, ffprobe_bin: str
) -> None:
    src = tmp_path / "clip.mkv"
    shutil.copyfile(media("mkv"), src)
    ok = tmp_path / "fine.mp4"
    shutil.copyfile(media("ok"), ok)
    result = CliRunner().invoke(main, ["check", str(src), str(ok), "--fix"])
    assert result.exit_code == 0, result.output
    fixed = tmp_path / "clip.fixed.mp4"
    assert_passes(read(ffprobe_bin, fixed), fixed, load_profile("kling-lipsync"))
    assert not (tmp_path / "fine.fixed.mp4").exists()
    assert "fixing 1 input" in result.output
    plain = CliRunner().invoke(main, ["check", str(src)])
    assert plain.exit_code == 1


def test_sigterm_cleans_up_like_ctrl_c(media: Callable[[str], Path], tmp_path: Path) -> None:
    src = tmp_path / "in.mp4"
    shutil.copyfile(media("uhd"), src)
    out = tmp_path / "out.mp4"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "preflight", "fix", str(src), "-o", str(out), "--preset", "slow"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=tmp_path,
    )
    os.close(slave)
    try:
        _read_until(master, b"ETA", time.monotonic() + 120)
        proc.terminate()
        _read_until(master, b"no output file was written", time.monotonic() + 60)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        os.close(master)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_two_inputs_claiming_one_output_name(media: Callable[[str], Path], tmp_path: Path) -> None:
    mkv = tmp_path / "clip.mkv"
    avi = tmp_path / "clip.avi"
    shutil.copyfile(media("mkv"), mkv)
    shutil.copyfile(media("avi"), avi)
    out_dir = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["fix", str(mkv), str(avi), "--out-dir", str(out_dir), "--format", "json", *FAST]
    )
    assert result.exit_code == 1
    statuses = [r["status"] for r in json.loads(result.output)["results"]]
    assert statuses == ["fixed", "failed"]
    assert [p.name for p in out_dir.iterdir()] == ["clip.mp4"]


def test_ctrl_c_stops_a_parallel_batch_and_leaves_nothing(
    media: Callable[[str], Path], tmp_path: Path
) -> None:
    inputs = []
    for name in ("a.mp4", "b.mp4"):
        inputs.append(tmp_path / name)
        shutil.copyfile(media("uhd"), inputs[-1])
    out_dir = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "preflight",
            "fix",
            *map(str, inputs),
            "--out-dir",
            str(out_dir),
            "--jobs",
            "2",
            "--preset",
            "slow",
            "-v",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stderr is not None
    try:
        encodes = 0
        for raw in proc.stderr:  # one line per FFmpeg command, logged as it starts (-v)
            if raw.startswith(b"ffmpeg: ") and b"libx264" in raw:
                encodes += 1
                if encodes == 2:
                    break
        assert encodes == 2
        os.kill(proc.pid, signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert b"no output file was written" in rest
    assert b"Traceback" not in rest
    assert sorted(p.name for p in out_dir.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "b.mp4", "out"]


def test_a_url_is_not_fixed_in_place(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["fix", "https://example.invalid/clip.mp4", "--dry-run"])
    assert result.exit_code == 1
    assert "download the URL first" in result.output
