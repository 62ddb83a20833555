"""Helpers for the sandbox tests: Kling tokens, and a loopback receiver for callbacks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt


def kling_token(access_key: str, secret_key: str, **claims: Any) -> str:
    """A token built as Kling documents it (HS256, iss, exp +1800 s, nbf -5 s), overridable."""
    now = int(time.time())
    body: dict[str, Any] = {"iss": access_key, "exp": now + 1800, "nbf": now - 5}
    body.update(claims)
    return jwt.encode(body, secret_key, algorithm="HS256", headers={"typ": "JWT"})


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST (headers and raw body)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.cond:
                    receiver.posts.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                    receiver.cond.notify_all()
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def wait(self, count: int, timeout: float = 20.0) -> list[tuple[dict[str, str], bytes]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.posts) >= count, timeout), self.posts
            return list(self.posts)

    def bodies(self) -> list[dict[str, Any]]:
        with self.cond:
            return [json.loads(raw) for _, raw in self.posts]


def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for ``condition`` that another thread or process makes true (a receiver, a
    sandbox's clock); a bounded poll, failing the test at ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
