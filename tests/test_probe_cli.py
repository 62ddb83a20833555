"""`preflight probe`: output formats, exit codes, messages without tracebacks, the cache flag."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.probing import _cache
from preflight.toolchain import binaries

Media = Callable[[str], Path]


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "cache"
    monkeypatch.setenv("PREFLIGHT_CACHE_DIR", str(path))
    yield path
    _cache.close_all()


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["probe", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_table_for_good_inputs(media: Media, cache_dir: Path) -> None:
    code, out, err = _run(str(media("rotated")), str(media("mp3")), str(media("lying")))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["input", "container", "size", "duration", "video", "audio"]
    assert "h264 720x1280 (coded 1280x720, rot 90, 25fps)" in lines[1]
    assert "mp3 44100Hz 1ch" in lines[2]
    assert "matroska (.mp4)" in lines[3]


def test_json_keeps_order_and_reports_errors(media: Media, tmp_path: Path, cache_dir: Path) -> None:
    missing = tmp_path / "missing.mp4"
    code, out, err = _run("--format", "json", str(media("ok")), str(missing), str(media("jpg")))
    assert code == 1
    data = json.loads(out)
    assert [d["source"] for d in data] == [str(media("ok")), str(missing), str(media("jpg"))]
    assert data[0]["video"]["width"] == 1280
    assert data[0]["effective_duration"] == pytest.approx(4.0, abs=0.05)
    assert data[1] == {"source": str(missing), "error": "no such file"}
    assert data[2]["image"] == {"codec": "mjpeg", "width": 720, "height": 1280}
    assert err == f"preflight: {missing}: no such file\n"


def test_unreadable_inputs_exit_1_without_traceback(
    media: Media, tmp_path: Path, cache_dir: Path
) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video\n")
    empty = tmp_path / "empty.mov"
    empty.touch()
    code, out, err = _run(str(fake), str(media("small")), str(empty), str(tmp_path))
    assert code == 1
    assert "Traceback" not in err + out
    assert err.splitlines() == [
        f"preflight: {fake}: not a media file: its content is plain text",
        f"preflight: {empty}: empty file (0 bytes)",
        f"preflight: {tmp_path}: is a directory, not a media file",
    ]
    assert "small_640x360.mp4" in out  # the good one is still reported


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Missing argument"),
        (("--backend", "vlc", "x.mp4"), "Invalid value for '--backend'"),
        (("--format", "xml", "x.mp4"), "Invalid value for '-f' / '--format'"),
        (("--workers", "0", "x.mp4"), "Invalid value for '--workers'"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...], message: str) -> None:
    code, _, err = _run(*args)
    assert code == 2
    assert message in err


def test_no_cache_flag(media: Media, cache_dir: Path) -> None:
    db = cache_dir / f"probe-v{_cache.SCHEMA}.sqlite3"
    assert _run("--no-cache", str(media("ok")))[0] == 0
    assert not db.exists()
    assert _run(str(media("ok")))[0] == 0
    assert db.exists()


def test_leading_dash_name_after_double_dash(media: Media, tmp_path: Path, cache_dir: Path) -> None:
    target = tmp_path / "-dash clip.mp4"
    shutil.copyfile(media("small"), target)
    code, out, _ = _run("--format", "json", "--backend", "ffprobe", "--", str(target))
    assert code == 0
    assert json.loads(out)[0]["video"]["width"] == 640


def test_missing_ffprobe_is_a_clear_error(
    media: Media, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PREFLIGHT_FFPROBE", str(tmp_path / "no-ffprobe-here"))
    monkeypatch.setenv("PATH", str(tmp_path))
    binaries.find_ffprobe.cache_clear()
    try:
        code, _, err = _run("--backend", "ffprobe", "--no-cache", str(media("ok")))
    finally:
        monkeypatch.undo()
        binaries.find_ffprobe.cache_clear()
    assert code == 2
    assert "ffprobe not found" in err
    assert "Traceback" not in err


def test_cli_start_up_stays_light() -> None:
    """Importing the command must not load libmediainfo, httpx or SQLite: they load on use."""
    code = (
        "import sys, preflight.cli, preflight.cli.probe_cmd, preflight.probing; "
        "print(sorted(m for m in ('pymediainfo', 'httpx', 'sqlite3') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_unloadable_libmediainfo_is_a_tool_problem_not_an_input_problem(
    media: Media, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken install must say so once, not call every file unreadable."""
    from preflight.model.errors import ToolNotFoundError
    from preflight.probing import _mediainfo, probe

    monkeypatch.setattr(_mediainfo, "_library_loads", lambda: False)
    with pytest.raises(ToolNotFoundError, match="libmediainfo could not be loaded"):
        probe(media("mp3"))  # an MP4 is read without the library (the `_isobmff` fast path)
    monkeypatch.setenv("PREFLIGHT_PROBE_FAST", "0")
    with pytest.raises(ToolNotFoundError, match="libmediainfo could not be loaded"):
        probe(media("ok"))
    monkeypatch.delenv("PREFLIGHT_PROBE_FAST")
    code, out, err = _run("--no-cache", str(media("ok")), str(media("mp3")))
    assert code == 2
    assert "use --backend ffprobe" in err
    assert "Traceback" not in err + out
    assert probe(media("ok"), backend="ffprobe").video is not None
