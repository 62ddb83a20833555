"""URL inputs against a real HTTP server on 127.0.0.1, with and without Range support."""

from __future__ import annotations

import dataclasses
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

import pytest

from preflight.model.errors import InputError
from preflight.model.facts import MediaFacts
from preflight.probing import probe, probe_many

Media = Callable[[str], Path]
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class _Handler(BaseHTTPRequestHandler):
    server: _MediaServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads ``server.log`` instead."""

    def do_GET(self) -> None:
        srv = self.server
        path = srv.files.get(unquote(self.path.split("?", 1)[0]))
        if self.path.startswith("/fail"):
            self._reply(500, b"boom")
            return
        if path is None:
            self._reply(404, b"not here")
            return
        data = path.read_bytes() if isinstance(path, Path) else path
        wanted = self.headers.get("Range")
        match = _RANGE.match(wanted or "") if srv.ranges else None
        if match is None:
            self._reply(200, data, chunked=not srv.lengths)
            return
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else len(data) - 1
        if start >= len(data):
            self._reply(416, b"", extra={"Content-Range": f"bytes */{len(data)}"})
            return
        end = min(end, len(data) - 1)
        self._reply(
            206, data[start : end + 1], extra={"Content-Range": f"bytes {start}-{end}/{len(data)}"}
        )

    def _reply(
        self,
        status: int,
        body: bytes,
        *,
        extra: dict[str, str] | None = None,
        chunked: bool = False,
    ) -> None:
        self.send_response(status)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if self.server.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        sent = 0
        try:
            for offset in range(0, len(body), 64 * 1024):
                piece = body[offset : offset + 64 * 1024]
                if chunked:
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                else:
                    self.wfile.write(piece)
                sent += len(piece)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped reading (FFmpeg seeks this way)
        with self.server.lock:
            self.server.log.append((self.headers.get("Range"), status, sent))


class _MediaServer(ThreadingHTTPServer):
    daemon_threads = True
    files: ClassVar[dict[str, Path | bytes]]

    def __init__(self, *, ranges: bool, lengths: bool = True) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.ranges = ranges
        self.lengths = lengths
        self.files = {}
        self.log: list[tuple[str | None, int, int]] = []
        self.lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up early (a refused download, FFmpeg seeking) is not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{name}"

    @property
    def bytes_sent(self) -> int:
        with self.lock:
            return sum(sent for _, _, sent in self.log)


def _serve(**kwargs: bool) -> Iterator[_MediaServer]:
    server = _MediaServer(**kwargs)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def ranged() -> Iterator[_MediaServer]:
    yield from _serve(ranges=True)


@pytest.fixture
def plain() -> Iterator[_MediaServer]:
    yield from _serve(ranges=False)


@pytest.fixture
def chunked() -> Iterator[_MediaServer]:
    yield from _serve(ranges=False, lengths=False)


def _same_media(remote: MediaFacts, local: MediaFacts, url: str) -> None:
    assert remote.source == url
    assert dataclasses.replace(remote, source=local.source) == local


@pytest.mark.parametrize("name", ["ok", "long", "mkv", "wav", "jpg"])
def test_range_server_gives_the_local_facts(media: Media, ranged: _MediaServer, name: str) -> None:
    path = media(name)
    ranged.files[f"/media/{path.name}"] = path
    url = ranged.url(f"/media/{path.name}")
    facts = probe(url)
    _same_media(facts, probe(path), url)
    assert facts.size_bytes == path.stat().st_size


def test_range_probe_fetches_a_small_part(media: Media, ranged: _MediaServer) -> None:
    path = media("long")  # 15 s, ~12 MB, index (moov) at the end
    ranged.files["/long.mp4"] = path
    facts = probe(ranged.url("/long.mp4"))
    assert facts.effective_duration == pytest.approx(15.0, abs=0.05)
    assert all(status == 206 for _, status, _ in ranged.log)
    assert ranged.bytes_sent < path.stat().st_size // 10


def test_ffprobe_backend_over_ranges(media: Media, ranged: _MediaServer) -> None:
    path = media("ok")
    ranged.files["/ok.mp4"] = path
    url = ranged.url("/ok.mp4")
    _same_media(probe(url, backend="ffprobe"), probe(path, backend="ffprobe"), url)


@pytest.mark.parametrize("backend", ["mediainfo", "ffprobe"])
def test_server_without_ranges_downloads(media: Media, plain: _MediaServer, backend: str) -> None:
    path = media("rotated")
    plain.files["/clip.mp4"] = path
    url = plain.url("/clip.mp4?token=abc&x=1")
    facts = probe(url, backend=backend)
    _same_media(facts, probe(path, backend=backend), url)
    assert facts.extension == "mp4"
    assert [status for _, status, _ in plain.log] == [200]


def test_download_cap_with_content_length(
    media: Media, plain: _MediaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = media("ok")
    plain.files["/ok.mp4"] = path
    monkeypatch.setenv("PREFLIGHT_MAX_DOWNLOAD_BYTES", "100000")
    with pytest.raises(InputError, match=r"above the 100000-byte download limit") as info:
        probe(plain.url("/ok.mp4"))
    assert f"it is {path.stat().st_size} bytes" in str(info.value)


def test_download_cap_without_content_length(
    media: Media, chunked: _MediaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunked.files["/ok.mp4"] = media("ok")
    monkeypatch.setenv("PREFLIGHT_MAX_DOWNLOAD_BYTES", "100000")
    with pytest.raises(InputError, match="larger than that: above the 100000-byte download limit"):
        probe(chunked.url("/ok.mp4"))
    chunked.files["/tiny.png"] = media("png_small")
    assert probe(chunked.url("/tiny.png")).container == "png"


def test_http_errors(ranged: _MediaServer) -> None:
    with pytest.raises(InputError, match="HTTP 404 Not Found"):
        probe(ranged.url("/missing.mp4"))
    with pytest.raises(InputError, match="HTTP 500 Internal Server Error"):
        probe(ranged.url("/fail.mp4"))


def test_unreachable_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # nothing listens on the port any more
    with pytest.raises(InputError, match="could not fetch it"):
        probe(f"http://127.0.0.1:{port}/clip.mp4")


def test_remote_bad_content(media: Media, ranged: _MediaServer, plain: _MediaServer) -> None:
    ranged.files["/notes.mp4"] = b"just some text, not a video\n"
    ranged.files["/empty.mp4"] = b""
    data = media("small").read_bytes()
    ranged.files["/cut.mp4"] = data[: len(data) // 3]
    plain.files["/empty.mp4"] = b""
    with pytest.raises(InputError, match="plain text"):
        probe(ranged.url("/notes.mp4"))
    with pytest.raises(InputError, match=r"empty file \(0 bytes\)"):
        probe(ranged.url("/empty.mp4"))
    with pytest.raises(InputError, match=r"empty file \(0 bytes\)"):
        probe(plain.url("/empty.mp4"))
    with pytest.raises(InputError, match="truncated MP4 file"):
        probe(ranged.url("/cut.mp4"))


def test_probe_many_mixes_urls_and_paths(media: Media, ranged: _MediaServer) -> None:
    ranged.files["/a.mp3"] = media("mp3")
    results = probe_many([ranged.url("/a.mp3"), media("ok"), ranged.url("/nope.mp4")])
    assert isinstance(results[0], MediaFacts)
    assert results[0].container == "mp3"
    assert isinstance(results[1], MediaFacts)
    assert isinstance(results[2], InputError)
    assert "404" in str(results[2])
