"""The resumable download against real HTTP servers on loopback: one that honours Range (the
sandbox's file serving) and one that does not (Python's http.server)."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from preflight.model.errors import APIError
from preflight.sandbox import Sandbox
from preflight.submitting.download import download, part_path


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "served" / "result.mp4"
    path.parent.mkdir()
    path.write_bytes(os.urandom(300_000))
    return path


@pytest.fixture
def plain_server(payload: Path) -> Iterator[str]:
    """http.server on loopback: answers every GET with the whole file (no Range support)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(payload.parent))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{payload.name}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_part_file_is_continued_with_range(payload: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    data = payload.read_bytes()
    part_path(out).write_bytes(data[:100_000])  # what a killed run left
    seen: list[int] = []
    with Sandbox() as sandbox:
        url = sandbox.serve_file(payload)
        download(url, out, on_progress=lambda done, total: seen.append(done))
    assert out.read_bytes() == data
    assert not part_path(out).exists()
    assert seen[0] > 100_000  # counting went on from the part: only the rest was fetched
    assert seen[-1] == len(data)


def test_without_range_support_it_starts_over(
    payload: Path, tmp_path: Path, plain_server: str
) -> None:
    out = tmp_path / "out.mp4"
    part_path(out).write_bytes(b"stale bytes from an older attempt")
    download(plain_server, out)
    assert out.read_bytes() == payload.read_bytes()
    assert not part_path(out).exists()


def test_a_failed_download_leaves_nothing_at_out(tmp_path: Path, plain_server: str) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(APIError, match="HTTP 404"):
        download(plain_server.rsplit("/", 1)[0] + "/missing.mp4", out)
    assert not out.exists()
