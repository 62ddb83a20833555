"""httpx's INFO request log never shows a URL's secrets (signed links, tokens, user info)."""

from __future__ import annotations

import http.server
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from preflight.client.url_logs import redacted_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://b.s3.amazonaws.com/k/x.mp4?X-Amz-Signature=abc&X-Amz-Credential=AK%2F1",
            "https://b.s3.amazonaws.com/k/x.mp4?X-Amz-Signature=***&X-Amz-Credential=***",
        ),
        ("https://user:pw@h.example/p?t=1#frag", "https://***@h.example/p?t=***"),
        ("https://user@h.example/p", "https://***@h.example/p"),
        ("https://h.example/a/b.mp4", "https://h.example/a/b.mp4"),
        ("http://127.0.0.1:8080/v1/x?token=s3cr3t&token=again", "http://127.0.0.1:8080/v1/x?token=***&token=***"),
    ],
)  # fmt: skip
def test_redacted_url(url: str, shown: str) -> None:
    assert redacted_url(httpx.URL(url)) == shown


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """The test server's own access log is not what is tested."""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "result.mp4").write_bytes(b"\x00" * 64)

    def handler(*args: object, **kwargs: object) -> _Quiet:
        return _Quiet(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_download_of_a_signed_link_logs_no_signature(
    served: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A result download (what `submit` does with a provider's signed link) with logging on at
    INFO, as a program embedding preflight may have it: the request is logged, its secrets not."""
    from preflight.submitting.download import download

    url = f"{served}/result.mp4?X-Amz-Signature=0f1e2d3c4b5a&X-Amz-Credential=AKIAEXAMPLE"
    with caplog.at_level(logging.INFO):
        got = download(url, tmp_path / "out" / "result.mp4")
    assert got.read_bytes() == b"\x00" * 64
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines, "httpx logged no request: nothing was tested"
    assert "X-Amz-Signature=***" in lines[0]
    assert all("0f1e2d3c4b5a" not in line and "AKIAEXAMPLE" not in line for line in lines)
    assert "0f1e2d3c4b5a" not in caplog.text
