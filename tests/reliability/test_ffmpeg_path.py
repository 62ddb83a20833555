"""Attack 9: whatever `ffmpeg` is first on PATH, preflight runs an FFmpeg that can do the job.

Before: the first `ffmpeg` on PATH always won. A broken one made `preflight demo` print only
"FFmpeg failed with exit status 1"; Debian 12's 5.1 (no `-display_rotation`) broke the fixtures.
Now the candidate is checked once and the bundled binary is used instead, with one warning, and
every FFmpeg error names the binary and its version.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from preflight.model.errors import FFmpegError, ToolNotFoundError
from preflight.toolchain import binaries, runner

# a real old FFmpeg (Debian 12's 5.1 from `apt-get install ffmpeg`), when the machine has one
DEBIAN_FFMPEG = Path(os.environ.get("PREFLIGHT_TEST_OLD_FFMPEG", "/usr/bin/ffmpeg"))


def _forget() -> None:
    binaries.forget()
    runner.has_filters.cache_clear()


@pytest.fixture
def fresh_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The resolver as a new process sees it; restored for the rest of the session afterwards."""
    monkeypatch.delenv("PREFLIGHT_FFMPEG", raising=False)
    _forget()
    yield
    monkeypatch.undo()
    _forget()


def _script(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ffmpeg"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def broken_ffmpeg(folder: Path) -> Path:
    """An `ffmpeg` that fails whatever it is asked (a wrapper whose target is gone)."""
    return _script(folder, 'echo "ffmpeg: cannot load libavcodec.so.59" >&2\nexit 1\n')


def old_ffmpeg(folder: Path) -> Path:
    """An `ffmpeg` that says 5.1 and lacks `-display_rotation`, otherwise the real one."""
    real = binaries.bundled_ffmpeg()
    assert real is not None
    return _script(
        folder,
        f"""REAL='{real}'
for a in "$@"; do
  case "$a" in
    -version) echo "ffmpeg version 5.1.2-3 Copyright (c) 2000-2022 the FFmpeg developers"; exit 0;;
    -display_rotation) echo "Unrecognized option 'display_rotation'." >&2; exit 8;;
    long) "$REAL" "$@" | grep -v display_rotation; exit 0;;
  esac
done
exec "$REAL" "$@"
""",
    )


def _on_path(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def _bad_ffmpegs(tmp_path: Path) -> list[tuple[str, Path]]:
    made = [
        ("broken", broken_ffmpeg(tmp_path / "broken")),
        ("old", old_ffmpeg(tmp_path / "old")),
    ]
    if DEBIAN_FFMPEG.exists():  # the real Debian 5.1, when installed, as well as the fake
        made.append(("debian", DEBIAN_FFMPEG))
    return made


@pytest.mark.parametrize("kind", ["broken", "old", "debian"])
def test_an_unusable_ffmpeg_on_path_falls_back_to_the_bundled_one(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fresh_resolver: None,
    kind: str,
) -> None:
    made = dict(_bad_ffmpegs(tmp_path))
    if kind not in made:
        pytest.skip("Debian's ffmpeg is not installed here (the fake 5.1 covers the case)")
    folder = tmp_path / "first"
    folder.mkdir()
    (folder / "ffmpeg").symlink_to(made[kind])
    _on_path(monkeypatch, folder)
    with caplog.at_level(logging.WARNING, logger="preflight.ffmpeg"):
        chosen = binaries.ffmpeg()
        assert binaries.ffmpeg() is chosen
    assert chosen.path == binaries.bundled_ffmpeg()
    assert chosen.usable
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings  # said once, not per run
    assert str(folder / "ffmpeg") in warnings[0]
    assert "bundled" in warnings[0]
    # and the chosen one really works for what preflight asks of it
    out = tmp_path / "out.mp4"
    runner.run(["-f", "lavfi", "-i", "testsrc2=size=64x64:rate=5:duration=0.4",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", "-y", str(out)])  # fmt: skip
    assert out.stat().st_size > 0


def test_a_timed_out_check_is_not_taken_for_a_missing_feature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_resolver: None
) -> None:
    """On a machine loaded many times over, a listing may time out: that says nothing about the
    binary, so it is asked again later, and the bundled FFmpeg is still used."""
    slow = _script(tmp_path / "slow", "sleep 5\nexit 0\n")
    monkeypatch.setattr(binaries, "CHECK_TIMEOUT", 0.2)
    first = binaries.examine(str(slow))
    assert not first.verified
    assert not first.usable
    assert binaries.examine(str(slow)) is not first  # not cached
    _on_path(monkeypatch, slow.parent)
    chosen = binaries.ffmpeg()
    assert chosen.path == binaries.bundled_ffmpeg()


def test_what_an_old_ffmpeg_lacks_is_named(tmp_path: Path, fresh_resolver: None) -> None:
    found = binaries.examine(str(old_ffmpeg(tmp_path)))
    assert found.version.startswith("5.1")
    assert not found.usable
    assert any("-display_rotation" in m for m in found.missing)
    assert "5.1" in found.label


def test_an_explicit_unusable_ffmpeg_is_an_error_not_a_silent_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_resolver: None
) -> None:
    monkeypatch.setenv("PREFLIGHT_FFMPEG", str(broken_ffmpeg(tmp_path)))
    with pytest.raises(ToolNotFoundError, match="PREFLIGHT_FFMPEG") as info:
        binaries.ffmpeg()
    assert str(tmp_path / "ffmpeg") in str(info.value)


def test_every_ffmpeg_error_names_the_binary_and_its_version(tmp_path: Path) -> None:
    chosen = binaries.ffmpeg()
    with pytest.raises(FFmpegError) as info:
        runner.run([*runner.input_args(tmp_path / "missing.mp4"), "-f", "null", "-"])
    assert chosen.path in str(info.value)
    assert f"FFmpeg {chosen.version}" in str(info.value)
    assert chosen.version != "unknown"


def _clean_env(tmp_path: Path, first: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("KLING_", "WAVESPEED_", "AWS_", "PREFLIGHT_"))
    }  # fmt: skip
    env["HOME"] = str(tmp_path / "home")
    env["PATH"] = f"{first}{os.pathsep}{env['PATH']}"
    return env


def test_demo_works_with_a_broken_ffmpeg_first_on_path(tmp_path: Path) -> None:
    broken_ffmpeg(tmp_path / "bin")
    proc = subprocess.run(
        [sys.executable, "-m", "preflight", "demo", "--out-dir", str(tmp_path / "demo")],
        env=_clean_env(tmp_path, tmp_path / "bin"), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "demo" / "sample.lipsync.mp4").stat().st_size > 0
    assert proc.stderr.count("is not used") == 1  # the fallback is said, once
    assert str(tmp_path / "bin" / "ffmpeg") in proc.stderr


def test_fixtures_use_the_same_resolver(tmp_path: Path) -> None:
    """fixtures/media.py makes the rotated clip (`-display_rotation`) past an old ffmpeg."""
    old_ffmpeg(tmp_path / "bin")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, str(root / "fixtures" / "media.py"), str(tmp_path / "out"), "rotated"],
        env=_clean_env(tmp_path, tmp_path / "bin"), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "rotated.mp4").stat().st_size > 0
