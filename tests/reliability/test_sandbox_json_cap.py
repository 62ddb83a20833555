"""The sandbox's JSON bodies are capped (``SandboxConfig.json_max_bytes``), over real HTTP.

Before the cap: every JSON route read its whole body into memory, so a create announcing (or
streaming) gigabytes was buffered whole before the JSON was even parsed. Now a body announced past
the cap is refused from its ``Content-Length`` before any of it is read, and a body without a
length is counted while it streams and refused as soon as it passes the cap; each refusal is a
413 in the route's provider's error shape, and no task is created.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_support import kling_token

from preflight.sandbox import Sandbox, SandboxConfig

CAP = 64 * 1024
BOUND_S = 5.0  # a refusal from the header is immediate; this only keeps a hung test short
T2V = "/api/v3/kwaivgi/kling-lipsync/text-to-video"
UPLOADS = "/api/v3/media/uploads"  # the upload declaration is JSON too
KLING_ROUTES = [
    "/v1/videos/lip-sync",
    "/v1/videos/image2video",
    "/v1/videos/identify-face",
    "/v1/videos/advanced-lip-sync",
]
CONTROL_ROUTES = ["/_sandbox/faults", "/_sandbox/advance"]
FAL = "/fal-ai/kling-video/lipsync/audio-to-video"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(clock_scale=0, json_max_bytes=CAP)) as sandbox:
        yield sandbox


def headers_for(sb: Sandbox, path: str) -> dict[str, str]:
    if path.startswith("/api/v3/"):
        return {"Authorization": f"Bearer {sb.wavespeed_api_key}"}
    if path.startswith("/v1/"):
        return {"Authorization": f"Bearer {kling_token(sb.kling_access_key, sb.kling_secret_key)}"}
    if path.startswith("/fal-ai/"):
        return {"Authorization": f"Key {sb.fal_key}"}
    return {}


def padded(body: dict[str, Any], size: int) -> bytes:
    """``body`` as JSON, padded with trailing whitespace to exactly ``size`` bytes."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def assert_413_in_shape(path: str, response: httpx.Response) -> None:
    assert response.status_code == 413
    body = response.json()
    if path.startswith("/fal-ai/"):  # fal's FastAPI-style error
        assert body == {"detail": f"the request body is larger than {CAP} bytes"}
        return
    assert body["message"] == f"the request body is larger than {CAP} bytes"
    if path.startswith("/v1/"):  # Kling's envelope
        assert body["code"] == 1200
        assert body["data"] is None
        assert body["request_id"]
    elif path.startswith("/api/v3/"):  # WaveSpeed's envelope
        assert body == {"code": 413, "message": body["message"], "data": None}


@pytest.mark.parametrize("path", [*KLING_ROUTES, T2V, UPLOADS, FAL, *CONTROL_ROUTES])
@pytest.mark.parametrize("size", [CAP + 1, 4 * CAP])
def test_a_body_over_the_cap_is_413_in_the_providers_shape(
    sb: Sandbox, path: str, size: int
) -> None:
    with httpx.Client(base_url=sb.url, headers=headers_for(sb, path), timeout=30) as http:
        response = http.post(path, content=padded({}, size))
    assert_413_in_shape(path, response)
    assert sb.tasks() == []


@pytest.mark.parametrize("path", [KLING_ROUTES[0], T2V, FAL, CONTROL_ROUTES[0]])
def test_a_chunked_body_over_the_cap_is_413(sb: Sandbox, path: str) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: httpx sends it chunked
        yield b'{"pad": "'
        for _ in range(16):  # 16 x 16 KiB = four times the cap, never announced
            yield b"x" * 16384
        yield b'"}'

    with httpx.Client(base_url=sb.url, headers=headers_for(sb, path), timeout=30) as http:
        response = http.post(path, content=chunks())
    assert_413_in_shape(path, response)
    assert sb.tasks() == []


def raw_exchange(sb: Sandbox, head: str, body: bytes = b"") -> tuple[bytes, float]:
    """Send ``head`` and ``body`` on a raw socket, never finishing the body; the first answer
    bytes and how long they took."""
    host, port = sb.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=BOUND_S) as conn:
        started = time.monotonic()
        conn.sendall(head.encode() + body)
        answer = conn.recv(4096)
        return answer, time.monotonic() - started


def test_an_announced_huge_body_is_refused_from_the_header(sb: Sandbox) -> None:
    token = kling_token(sb.kling_access_key, sb.kling_secret_key)
    head = (
        "POST /v1/videos/lip-sync HTTP/1.1\r\nHost: sandbox\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 10000000000\r\n\r\n"
    )
    answer, took = raw_exchange(sb, head)  # 10 GB announced, none sent
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert took < BOUND_S


def test_a_chunked_body_is_refused_while_it_still_streams(sb: Sandbox) -> None:
    head = (
        f"POST {T2V} HTTP/1.1\r\nHost: sandbox\r\n"
        f"Authorization: Bearer {sb.wavespeed_api_key}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"x" * 8192
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    # a little past the cap, and no final chunk: the server cannot have waited for the end
    answer, took = raw_exchange(sb, head, chunk * (CAP // len(piece) + 2))
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert took < BOUND_S


@pytest.mark.parametrize("chunked", [False, True])
def test_a_create_of_exactly_the_cap_is_made(
    sb: Sandbox, media: Callable[[str], Path], chunked: bool
) -> None:
    video = sb.serve_file(media("ok"))
    raw = padded({"video": video, "text": "Hello", "voice_id": "genshin_klee2"}, CAP)
    content: bytes | Iterator[bytes] = iter([raw[: CAP // 2], raw[CAP // 2 :]]) if chunked else raw
    with httpx.Client(base_url=sb.url, headers=headers_for(sb, T2V), timeout=60) as http:
        response = http.post(T2V, content=content)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["id"]
    assert len(sb.tasks()) == 1


def test_the_default_cap_takes_the_largest_documented_create() -> None:
    """16 MiB: a base64 image of 10 MB (Kling image2video's limit) is 13.4 MB of JSON."""
    with Sandbox(SandboxConfig(clock_scale=0)) as sandbox:
        assert sandbox.core.config.json_max_bytes == 16 * 1024 * 1024
        token = kling_token(sandbox.kling_access_key, sandbox.kling_secret_key)
        body = {"model_name": "kling-v1", "image": "A" * (10_000_000 * 4 // 3 + 4)}
        with httpx.Client(base_url=sandbox.url, timeout=60) as http:
            response = http.post(
                "/v1/videos/image2video",
                content=json.dumps(body).encode(),
                headers={"Authorization": f"Bearer {token}"},
            )
    # read whole and judged: refused for what the image is (not an image), not for its size
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 1201
