"""Issue 10, items 1 and 8, in the sandbox: hostile bodies, huge uploads, slow media servers.

Before the fix: a JSON body nested 100 000 deep answered 500 (a RecursionError traceback in the
log); a 1 GB authenticated upload was spooled and stored whole; a media URL that drips bytes kept
a create request open for as long as the server dripped. Each now ends with the provider's own
kind of refusal, in its JSON shape, within a bound.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sandbox_support import kling_token

from preflight.sandbox import Sandbox, SandboxConfig
from reliability.hostile_http import Hostile, Redirect, SlowBody, SlowHeaders

Media_ = Callable[[str], Path]
UPLOAD_PATH = "/api/v3/media/upload/binary"
T2V = "/api/v3/kwaivgi/kling-lipsync/text-to-video"
CAP = 1_000_000
BOUND_S = 20.0


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    config = SandboxConfig(clock_scale=0, upload_max_bytes=CAP, fetch_deadline_seconds=2)
    with Sandbox(config) as sandbox:
        yield sandbox


@pytest.fixture
def plain() -> Iterator[Sandbox]:
    """A sandbox as configured by default."""
    with Sandbox(SandboxConfig(clock_scale=0)) as sandbox:
        yield sandbox


def kling(sb: Sandbox) -> httpx.Client:
    token = kling_token(sb.kling_access_key, sb.kling_secret_key)
    return httpx.Client(base_url=sb.url, headers={"Authorization": f"Bearer {token}"})


def wavespeed(sb: Sandbox) -> httpx.Client:
    headers = {"Authorization": f"Bearer {sb.wavespeed_api_key}"}
    return httpx.Client(base_url=sb.url, headers=headers, timeout=60)


def nested(depth: int) -> bytes:
    return b'{"input": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    ("path", "client"),
    [("/v1/videos/lip-sync", kling), ("/v1/videos/image2video", kling), (T2V, wavespeed)],
)
def test_deeply_nested_json_is_a_400_not_a_500(
    plain: Sandbox, path: str, client: Callable[[Sandbox], httpx.Client]
) -> None:
    with client(plain) as http:
        response = http.post(path, content=nested(100_000))
    assert response.status_code == 400
    body = response.json()
    assert "not valid JSON" in body["message"]
    assert plain.tasks() == []


def test_the_test_api_refuses_nested_json_too(plain: Sandbox) -> None:
    response = httpx.post(f"{plain.url}/_sandbox/faults", content=nested(100_000))
    assert response.status_code == 400
    assert "bad faults" in response.json()["message"]


def test_uploads_under_the_cap_are_stored(sb: Sandbox) -> None:
    with wavespeed(sb) as http:
        response = http.post(UPLOAD_PATH, files={"file": ("clip.mp4", b"\1" * (CAP - 10))})
    assert response.status_code == 200
    assert response.json()["data"]["size"] == CAP - 10


@pytest.mark.parametrize("size", [CAP + 1, CAP + 1000, 2 * CAP])
def test_an_upload_over_the_cap_is_413(sb: Sandbox, size: int) -> None:
    with wavespeed(sb) as http:
        response = http.post(UPLOAD_PATH, files={"file": ("big.mp4", b"\1" * size)})
    assert response.status_code == 413
    assert response.json()["message"] == f"the uploaded file is larger than {CAP} bytes"
    assert_nothing_stored(sb)


def test_a_streamed_upload_without_length_stops_at_the_cap(sb: Sandbox) -> None:
    boundary = "hostile"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        yield head
        for _ in range(64):  # 64 x 64 KiB = 4 MiB, four times the cap, never announced
            sent += 65536
            yield b"\1" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    with wavespeed(sb) as http:
        response = http.post(UPLOAD_PATH, content=body(), headers=headers)
    assert response.status_code == 413
    assert_nothing_stored(sb)


def test_an_upload_needs_the_key_before_any_cap(sb: Sandbox) -> None:
    response = httpx.post(f"{sb.url}{UPLOAD_PATH}", files={"file": ("a.mp4", b"\1" * 10)})
    assert response.status_code == 401


def test_the_default_cap_is_the_documented_one(plain: Sandbox) -> None:
    assert plain.core.config.upload_max_bytes == 200_000_000  # WS: the SDK's 200 MB
    host, port = plain.url.removeprefix("http://").split(":")
    head = (
        f"POST {UPLOAD_PATH} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {plain.wavespeed_api_key}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 300000000\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(head.encode())  # 300 MB announced, none sent: refused from the header
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413 ")


def assert_nothing_stored(sb: Sandbox) -> None:
    assert not list((sb.core.data_dir / "uploads").glob("*/*"))
    assert not list(sb.core.inputs.glob(".upload-*"))


@pytest.mark.parametrize("route", [SlowBody(every=0.3), SlowHeaders(every=0.3)])
def test_a_dripping_media_server_ends_the_create_at_the_deadline(
    sb: Sandbox, route: object
) -> None:
    with Hostile({"/clip.mp4": route}) as srv, wavespeed(sb) as http:
        started = time.monotonic()
        body = {"video": srv.url("/clip.mp4"), "text": "Hi", "voice_id": "AOT"}
        response = http.post(T2V, json=body)
        took = time.monotonic() - started
    assert response.status_code == 400
    assert response.json()["code"] == 1402  # media not reachable
    assert "within 2 s" in response.json()["message"]
    assert took < BOUND_S
    assert sb.tasks() == []


def test_kling_refuses_a_dripping_video_url_with_1201(sb: Sandbox) -> None:
    with Hostile({"/clip.mp4": SlowBody(every=0.3)}) as srv, kling(sb) as http:
        started = time.monotonic()
        inp = {"video_url": srv.url("/clip.mp4"), "mode": "text2video", "text": "Hi"}
        response = http.post(
            "/v1/videos/lip-sync",
            json={"input": {**inp, "voice_id": "AOT", "voice_language": "en"}},
            timeout=60,
        )
        took = time.monotonic() - started
    assert response.json()["code"] == 1201
    assert "within 2 s" in response.json()["message"]
    assert took < BOUND_S


@pytest.mark.parametrize(
    ("location", "words"),
    [("/loop?n={n}", "more than 5 redirects"), ("file:///etc/passwd", "not http(s)")],
)
def test_media_redirects_are_http_only_and_few(sb: Sandbox, location: str, words: str) -> None:
    routes = {"/clip.mp4": Redirect(location), "/loop": Redirect("/loop?n={n}")}
    with Hostile(routes) as srv, wavespeed(sb) as http:
        body = {"video": srv.url("/clip.mp4"), "text": "Hi", "voice_id": "AOT"}
        response = http.post(T2V, json=body)
        hops = srv.total_hits()
    assert response.json()["code"] == 1402
    assert words in response.json()["message"]
    assert hops <= 6
