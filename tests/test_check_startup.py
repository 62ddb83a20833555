"""`preflight check one.mp4 --no-face` pays only for what it uses: a local file never loads the
URL reader, one file never starts a thread pool, and the library is found without a subprocess.
Each of these is a few milliseconds of a run that should cost not much more than Python
importing click (benchmarks/startup.py measures the ratio)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

NOT_NEEDED = (
    "preflight.probing._remote",  # URLs only
    "concurrent.futures",  # more than one file only (it brings logging)
    "tempfile",  # a URL input only (a local copy for the face checks)
    "ctypes.util",  # only when libmediainfo is not where pymediainfo or the loader put it
    "httpx",
    "cv2",
    "preflight.vision.analysis",
    "preflight.checking.jobsfile",  # --jobs only (it brings csv)
    "ctypes",  # an H.264/AAC MP4 is read by the pure-Python fast path, without libmediainfo
    "preflight.probing._libmediainfo",
    "fractions",  # a non-square sample aspect ratio only (it brings decimal)
    "preflight.report.json_format",  # the report renderers: only the one asked for
    "preflight.report.sarif",
    "preflight.report.html",
    "preflight.model.estimate",  # a cost estimate only (the profile's Pricing loads without it)
)


def test_one_local_file_loads_nothing_it_does_not_use(media: Callable[[str], Path]) -> None:
    code = (
        "import sys\nfrom preflight.cli import main\n"
        f"try:\n    main(['check', {str(media('short'))!r}, '--no-face', '--no-cache', '-q'])\n"
        "except SystemExit as exc:\n    assert exc.code in (0, 1), exc.code\n"
        f"print(sorted(m for m in {NOT_NEEDED!r} if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "short_1s.mp4" in done.stdout  # it did check the file
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_the_probe_cache_is_found_without_platformdirs(
    media: Callable[[str], Path], tmp_path: Path
) -> None:
    """With the cache on (the default), its folder is found without importing platformdirs,
    which brings tempfile, shutil and random: ~7 ms of a one-file run."""
    code = (
        "import sys\nfrom preflight.cli import main\n"
        f"try:\n    main(['check', {str(media('short'))!r}, '--no-face', '-q'])\n"
        "except SystemExit as exc:\n    assert exc.code in (0, 1), exc.code\n"
        "print(sorted(m for m in ('platformdirs', 'tempfile') if m in sys.modules), "
        "file=sys.stderr)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PREFLIGHT_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stderr.strip().splitlines()[-1] == "[]"
    assert list(tmp_path.glob("preflight/probe-v*.sqlite3"))  # the cache was used, there


def test_plain_check_of_one_file_loads_no_difflib(media: Callable[[str], Path]) -> None:
    """The text rule's "did you mean" (difflib, ~1.5 ms) loads only for an unknown voice id.
    (click itself loads it when a short option such as ``-q`` is given, so none is here.)"""
    code = (
        "import sys\nfrom preflight.cli import main\n"
        f"try:\n    main(['check', {str(media('short'))!r}, '--no-face', '--no-cache'])\n"
        "except SystemExit as exc:\n    assert exc.code in (0, 1), exc.code\n"
        "print('difflib' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "short_1s.mp4" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "False"


def test_a_cache_hit_reads_no_file_headers(media: Callable[[str], Path], tmp_path: Path) -> None:
    """Run again, a file's facts come from the probe cache: the magic-byte sniff and the parsed
    record (with struct, ~3 ms) load only when a file is actually read."""
    clip = str(media("short"))
    code = (
        "import sys\nfrom preflight.cli import main\n"
        f"try:\n    main(['check', {clip!r}, '--no-face'])\n"
        "except SystemExit as exc:\n    assert exc.code in (0, 1), exc.code\n"
        "print(sorted(m for m in sys.modules if m in "
        "('preflight.probing._sniff', 'preflight.probing._parsed')), file=sys.stderr)"
    )
    env = {**os.environ, "PREFLIGHT_CACHE_DIR": str(tmp_path / "cache")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        for _ in range(2)
    ]
    assert "short_1s.mp4" in runs[1].stdout
    assert runs[1].stdout == runs[0].stdout  # the same report, from the cache
    # the first run read the file; the second found its facts in the cache
    assert runs[0].stderr.strip().splitlines()[-1] != "[]"
    assert runs[1].stderr.strip().splitlines()[-1] == "[]"


def test_a_second_run_loads_its_profile_without_a_toml_parser(
    media: Callable[[str], Path], tmp_path: Path
) -> None:
    """The profile's parsed tables are kept in the cache folder: a second run neither imports
    tomllib nor parses ~10 KB of TOML (~3 % of `check one.mp4`), and reports the same."""
    clip = str(media("short"))
    code = (
        "import sys\nfrom preflight.cli import main\n"
        f"try:\n    main(['check', {clip!r}, '--no-face', '--format', 'json'])\n"
        "except SystemExit as exc:\n    assert exc.code in (0, 1), exc.code\n"
        "print('tomllib' in sys.modules, file=sys.stderr)"
    )
    env = {**os.environ, "PREFLIGHT_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=tmp_path,  # no pyproject.toml above it to parse
        )
        for _ in range(2)
    ]
    assert [r.stderr.strip().splitlines()[-1] for r in runs] == ["True", "False"]
    assert runs[1].stdout == runs[0].stdout
    assert list((tmp_path / "cache").glob("profiles-v1/*.json"))
