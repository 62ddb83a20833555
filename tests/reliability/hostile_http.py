"""A hostile HTTP server on 127.0.0.1 for the URL tests: it drips, redirects and lies on purpose.

Each route is one behaviour (see :class:`Hostile`). The server counts every request per path and
records user agents. Every loop is bounded twice, by a count and by ``LIFETIME_S``, and waits on
the server's stop event, so a server left behind by a failing test ends by itself within seconds
of ``close()`` (and at most ``LIFETIME_S`` after it started dripping even without it).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LIFETIME_S = 120.0  # no drip lasts longer than this, whatever the client does
DRIP_COUNT = 400  # nor sends more than this many pieces


@dataclass(frozen=True)
class Media:
    """Serve these bytes (with ``Content-Length``; ranges when ``ranges``)."""

    data: bytes
    ranges: bool = False
    content_type: str = "video/mp4"


@dataclass(frozen=True)
class SlowBody:
    """Headers at once (``Content-Length`` of ``size``), then one byte every ``every`` seconds."""

    size: int = 10_000
    every: float = 0.5


@dataclass(frozen=True)
class SlowHeaders:
    """The status line, then one header line every ``every`` seconds; never a body."""

    every: float = 0.5


@dataclass(frozen=True)
class Redirect:
    """A redirect to ``location`` (``{n}`` is replaced by the hop number + 1 from ``?n=``)."""

    location: str
    status: int = 302


@dataclass(frozen=True)
class ByAgent:
    """``lavf`` to an FFmpeg user agent (``Lavf/...``), ``other`` to anyone else."""

    other: Any
    lavf: Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client hanging up mid-drip is the point of these tests."""


class Hostile:
    """``with Hostile({"/clip.mp4": Media(data)}) as srv: srv.url("/clip.mp4")``."""

    def __init__(self, routes: dict[str, Any] | None = None) -> None:
        self.routes: dict[str, Any] = dict(routes or {})
        self.hits: Counter[str] = Counter()
        self.agents: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Hostile:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)

    def total_hits(self) -> int:
        with self._lock:
            return sum(self.hits.values())

    def _record(self, path: str, agent: str) -> None:
        with self._lock:
            self.hits[path] += 1
            self.agents.append(agent)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read ``hits`` and ``agents``."""

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                agent = self.headers.get("User-Agent", "")
                hostile._record(path, agent)
                route = hostile.routes.get(path)
                if isinstance(route, ByAgent):
                    route = route.lavf if agent.startswith("Lavf") else route.other
                try:
                    self._serve(route, query)
                except (TimeoutError, BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_HEAD = do_GET  # a HEAD meets the same drips (submit asks for the ETag with one)

            def _serve(self, route: Any, query: str) -> None:
                if route is None:
                    self._send(404, b"not here", "text/plain")
                elif isinstance(route, Media):
                    self._media(route)
                elif isinstance(route, SlowBody):
                    self._slow_body(route)
                elif isinstance(route, SlowHeaders):
                    self._slow_headers(route)
                elif isinstance(route, Redirect):
                    hop = int(query.removeprefix("n=")) if query.startswith("n=") else 0
                    self.send_response(route.status)
                    self.send_header("Location", route.location.replace("{n}", str(hop + 1)))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    raise TypeError(f"unknown route {route!r}")

            def _send(self, status: int, body: bytes, kind: str, **extra: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for key, value in extra.items():
                    self.send_header(key.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(body)

            def _media(self, route: Media) -> None:
                wanted = self.headers.get("Range", "")
                if not route.ranges or not wanted.startswith("bytes="):
                    self._send(200, route.data, route.content_type)
                    return
                first, _, last = wanted.removeprefix("bytes=").partition("-")
                start = int(first)
                end = min(int(last) if last else len(route.data) - 1, len(route.data) - 1)
                self._send(
                    206,
                    route.data[start : end + 1],
                    route.content_type,
                    Content_Range=f"bytes {start}-{end}/{len(route.data)}",
                )

            def _slow_body(self, route: SlowBody) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(route.size))
                self.end_headers()
                self.wfile.flush()
                self._drip(lambda i: b"\0", min(route.size, DRIP_COUNT), route.every)
                self.close_connection = True

            def _slow_headers(self, route: SlowHeaders) -> None:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                self.wfile.flush()
                self._drip(lambda i: f"X-Drip-{i}: x\r\n".encode(), DRIP_COUNT, route.every)
                self.close_connection = True

            def _drip(self, piece: Callable[[int], bytes], count: int, every: float) -> None:
                ends = time.monotonic() + LIFETIME_S
                for i in range(count):
                    if hostile.stop.wait(every) or time.monotonic() > ends:
                        return
                    self.wfile.write(piece(i))
                    self.wfile.flush()

        return Handler


def hls_playlist(segment_url: str) -> bytes:
    """A media playlist with one segment at ``segment_url`` (what FFmpeg would go and fetch)."""
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:4.0,\n{segment_url}\n#EXT-X-ENDLIST\n"
    ).encode()
