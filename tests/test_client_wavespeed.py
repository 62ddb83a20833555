"""WaveSpeedClient / AsyncWaveSpeedClient against the sandbox; callbacks and webhook signatures."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sandbox_support import Receiver

from preflight.client import (
    AUDIO_TO_VIDEO_MODEL,
    TEXT_TO_VIDEO_MODEL,
    AsyncWaveSpeedClient,
    KlingClient,
    RetryPolicy,
    TaskStatus,
    WaveSpeedClient,
    parse_callback,
    verify_webhook,
)
from preflight.client.models import TaskKind
from preflight.model.errors import (
    APIConnectionError,
    APIError,
    InvalidRequestError,
    ServerError,
    TaskFailedError,
)
from preflight.sandbox import Faults, Sandbox, SandboxConfig

NOW = 1_750_000_000


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(clock_scale=0)) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _no_faults(sandbox: Sandbox) -> None:
    sandbox.set_faults(Faults())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def video_url(sandbox: Sandbox, media: Callable[[str], Path]) -> str:
    return sandbox.serve_file(media("ok"))


@contextlib.contextmanager
def wavespeed(sandbox: Sandbox, **kwargs: Any) -> Iterator[WaveSpeedClient]:
    kwargs.setdefault("sleep", sandbox.advance)
    kwargs.setdefault("retry", RetryPolicy(random=lambda: 0.0))
    with (
        httpx.Client(timeout=30, event_hooks=kwargs.pop("hooks", {})) as http,
        WaveSpeedClient(
            sandbox.wavespeed_api_key, base_url=sandbox.url, http_client=http, **kwargs
        ) as client,
    ):
        yield client


async def _advance(sandbox: Sandbox, seconds: float) -> None:
    await anyio.to_thread.run_sync(sandbox.advance, seconds)


@contextlib.asynccontextmanager
async def awavespeed(sandbox: Sandbox) -> AsyncIterator[AsyncWaveSpeedClient]:
    async with (
        httpx.AsyncClient(timeout=30) as http,
        AsyncWaveSpeedClient(
            sandbox.wavespeed_api_key,
            base_url=sandbox.url,
            http_client=http,
            sleep=lambda s: _advance(sandbox, s),
            retry=RetryPolicy(random=lambda: 0.0),
        ) as client,
    ):
        yield client


def test_text_to_video_submit_wait_download(
    sandbox: Sandbox, video_url: str, tmp_path: Path
) -> None:
    seen: list[TaskStatus] = []
    with wavespeed(sandbox) as client:
        task = client.submit(TEXT_TO_VIDEO_MODEL, video=video_url, text="Hi there", voice_id="AOT")
        assert task.status is TaskStatus.SUBMITTED
        assert task.kind is TaskKind.WAVESPEED
        done = client.wait(task, on_update=lambda t: seen.append(t.status))
        path = client.download(done, tmp_path / "ws.mp4")
    assert done.status is TaskStatus.SUCCEEDED
    assert done.model == TEXT_TO_VIDEO_MODEL
    assert seen[-1] is TaskStatus.SUCCEEDED
    assert b"ftyp" in path.read_bytes()[:12]
    assert sandbox.task(task.id).params["voice_id"] == "AOT"


def test_upload_then_audio_to_video(
    sandbox: Sandbox, media: Callable[[str], Path], tmp_path: Path
) -> None:
    with wavespeed(sandbox) as client:
        video = client.upload(media("ok"))
        audio = client.upload(media("mp3"))
        task = client.submit(AUDIO_TO_VIDEO_MODEL, video=video, audio=audio)
        done = client.wait(task.id)
    assert video.startswith(sandbox.url)
    assert httpx.get(audio).content == media("mp3").read_bytes()
    assert done.status is TaskStatus.SUCCEEDED
    assert done.video_url


def test_failed_prediction_raises_with_its_reason(sandbox: Sandbox, video_url: str) -> None:
    sandbox.set_faults(fail_every=1)
    with wavespeed(sandbox) as client:
        task = client.submit(TEXT_TO_VIDEO_MODEL, video=video_url, text="Hi", voice_id="AOT")
        with pytest.raises(TaskFailedError, match="no human") as info:
            client.wait(task)
    assert info.value.task_id == task.id


def test_missing_field_is_an_invalid_request(sandbox: Sandbox, video_url: str) -> None:
    with wavespeed(sandbox) as client, pytest.raises(InvalidRequestError) as info:
        client.submit(AUDIO_TO_VIDEO_MODEL, video=video_url)
    assert info.value.code == 1400
    assert info.value.http_status == 400


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("drop_after_create_every", APIConnectionError),
        ("server_error_after_create_every", ServerError),
    ],
)
def test_ambiguous_submit_is_not_sent_again(
    sandbox: Sandbox, video_url: str, fault: str, error: type[Exception]
) -> None:
    sandbox.set_faults(**{fault: 1})
    posts: list[str] = []
    before = len(sandbox.tasks("wavespeed"))
    hooks = {"request": [lambda r: posts.append(r.method)]}
    with (
        wavespeed(sandbox, hooks=hooks) as client,
        pytest.raises(error, match="may have been created"),
    ):
        client.submit(TEXT_TO_VIDEO_MODEL, video=video_url, text="Hi", voice_id="AOT")
    assert posts == ["POST"]
    assert len(sandbox.tasks("wavespeed")) == before + 1  # it did exist: exactly one


def test_quota_429_on_submit_is_retried(sandbox: Sandbox, video_url: str) -> None:
    sandbox.set_faults(rate_limit_every=2)
    statuses: list[int] = []
    with wavespeed(sandbox, hooks={"response": [lambda r: statuses.append(r.status_code)]}) as c:
        c.submit(TEXT_TO_VIDEO_MODEL, video=video_url, text="one", voice_id="AOT")
        c.submit(TEXT_TO_VIDEO_MODEL, video=video_url, text="two", voice_id="AOT")
    assert statuses == [200, 429, 200]


@pytest.mark.anyio
async def test_async_submit_upload_wait_download(
    sandbox: Sandbox, media: Callable[[str], Path], tmp_path: Path
) -> None:
    async with awavespeed(sandbox) as client:
        video = await client.upload(media("ok"))
        task = await client.submit(TEXT_TO_VIDEO_MODEL, video=video, text="Hey", voice_id="AOT")
        done = await client.wait(task)
        again = await client.result(task.id)
        path = await client.download(done, tmp_path / "a.mp4")
    assert done.status is again.status is TaskStatus.SUCCEEDED
    assert path.stat().st_size > 0


@pytest.mark.anyio
async def test_async_failed_prediction(
    sandbox: Sandbox, video_url: str, media: Callable[[str], Path]
) -> None:
    audio_url = sandbox.serve_file(media("mp3"))
    sandbox.set_faults(fail_every=1)
    async with awavespeed(sandbox) as client:
        task = await client.submit(AUDIO_TO_VIDEO_MODEL, video=video_url, audio=audio_url)
        with pytest.raises(TaskFailedError):
            await client.wait(task)


# --- webhooks and callbacks ---------------------------------------------------------------------
def test_wavespeed_webhooks_verify_with_the_secret(sandbox: Sandbox, video_url: str) -> None:
    with Receiver() as hook, wavespeed(sandbox) as client:
        task = client.submit(
            TEXT_TO_VIDEO_MODEL, webhook=hook.url, video=video_url, text="Hi", voice_id="AOT"
        )
        client.wait(task)
        headers, body = hook.wait(1)[0]
    secret = sandbox.wavespeed_webhook_secret
    assert verify_webhook(headers, body, secret)
    assert WaveSpeedClient.verify_webhook(headers, body, secret)
    parsed = parse_callback(body)
    assert (parsed.id, parsed.status) == (task.id, TaskStatus.SUCCEEDED)
    assert not verify_webhook(headers, body + b" ", secret)
    assert not verify_webhook(headers, body, secret + "x")
    assert not verify_webhook({**headers, "webhook-id": "other"}, body, secret)
    stamp = int(headers["webhook-timestamp"])
    assert verify_webhook(headers, body, secret, now=stamp + 299)
    assert not verify_webhook(headers, body, secret, now=stamp + 301)
    assert not verify_webhook(headers, body, secret, now=stamp - 301)


def _sign(secret: str, webhook_id: str, stamp: int, body: bytes) -> str:
    key = secret.removeprefix("whsec_").encode()
    return hmac.new(key, f"{webhook_id}.{stamp}.".encode() + body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"webhook-id": "m1", "webhook-timestamp": str(NOW), "webhook-signature": "SIG"}, True),
        ({"Webhook-Id": "m1", "Webhook-Timestamp": str(NOW), "Webhook-Signature": "SIG"}, True),
        (
            {"webhook-id": "m1", "webhook-timestamp": str(NOW), "webhook-signature": "v1,x SIG"},
            True,
        ),
        ({"webhook-id": "m1", "webhook-timestamp": str(NOW), "webhook-signature": "v2,abc"}, False),
        ({"webhook-id": "m1", "webhook-timestamp": "soon", "webhook-signature": "SIG"}, False),
        ({"webhook-id": "m1", "webhook-signature": "SIG"}, False),
        ({"webhook-id": "m1", "webhook-timestamp": str(NOW), "webhook-signature": "v3,é"}, False),
    ],
)
def test_verify_webhook_cases(headers: dict[str, str], ok: bool) -> None:
    body = b'{"id":"p1","status":"completed"}'
    sig = "v3," + _sign("whsec_topsecret", "m1", NOW, body)
    headers = {k: v.replace("SIG", sig) for k, v in headers.items()}
    assert verify_webhook(headers, body, "whsec_topsecret", now=NOW) is ok


def test_kling_callbacks_parse_into_tasks(sandbox: Sandbox, video_url: str) -> None:
    with (
        Receiver() as hook,
        httpx.Client() as http,
        KlingClient(
            sandbox.kling_access_key,
            sandbox.kling_secret_key,
            base_url=sandbox.url,
            http_client=http,
            sleep=sandbox.advance,
        ) as client,
    ):
        task = client.create_lip_sync(
            video_url=video_url, text="Hi", voice_id="AOT", callback_url=hook.url
        )
        client.wait(task)
        posts = hook.wait(3)
        confirmed = client.get_lip_sync(parse_callback(posts[-1][1]).id)
    statuses = [parse_callback(body).status for _, body in posts]
    assert statuses[-1] is TaskStatus.SUCCEEDED
    assert {parse_callback(body).id for _, body in posts} == {task.id}
    assert confirmed.status is TaskStatus.SUCCEEDED


def test_parse_callback_shapes() -> None:
    kling = parse_callback(
        '{"task_id": "123", "task_status": "succeed", "task_result": '
        '{"videos": [{"id": "v", "url": "http://x/v.mp4", "duration": "4.2"}]}}'
    )
    assert (kling.provider, kling.status, kling.videos[0].duration) == (
        "kling",
        TaskStatus.SUCCEEDED,
        4.2,
    )
    enveloped = parse_callback(
        {"code": 200, "data": {"id": "p", "status": "failed", "error": "bad"}}
    )
    assert (enveloped.provider, enveloped.status_message) == ("wavespeed", "bad")
    later = parse_callback(
        json.dumps({"task_id": "9", "task_status": "brand-new", "extra": {"x": 1}})
    )
    assert later.status is TaskStatus.UNKNOWN
    assert later.raw["extra"] == {"x": 1}
    for bad in (b"not json", b"[1, 2]", b'{"hello": 1}'):
        with pytest.raises(InvalidRequestError):
            parse_callback(bad)


# --- uploads: the current route (instruction + PUT) and the older binary one --------------------
class Seen:
    """What the client sent, as the transport saw it (an httpx request hook)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)


def test_upload_uses_the_instruction_and_a_put_without_the_key(
    sandbox: Sandbox, media: Callable[[str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    seen = Seen()
    before = len(sandbox.uploads())
    with (
        caplog.at_level("DEBUG", logger="preflight.client"),
        wavespeed(sandbox, hooks={"request": [seen]}) as client,
    ):
        url = client.upload(media("mp3"))
    assert "voice.mp3" in caplog.text
    assert "through /api/v3/media/uploads: PUT to 127.0.0.1" in caplog.text
    assert "/storage/" not in caplog.text  # the URL's token stays out of the log
    post, put = seen.requests
    assert (post.method, post.url.path) == ("POST", "/api/v3/media/uploads")
    assert json.loads(post.content) == {
        "filename": "voice.mp3",
        "size": media("mp3").stat().st_size,
        "content_type": "audio/mpeg",
    }
    assert post.headers["authorization"] == f"Bearer {sandbox.wavespeed_api_key}"
    assert put.method == "PUT"
    assert put.url.path.startswith("/storage/")
    assert "authorization" not in put.headers  # the key never goes to the storage URL
    assert put.headers["content-type"] == "audio/mpeg"
    assert put.headers["content-length"] == str(media("mp3").stat().st_size)
    assert not isinstance(put.stream, httpx.ByteStream)  # streamed from the file, not read whole
    (record,) = sandbox.uploads()[before:]
    assert record["stored"] is True
    assert record["refused"] == []  # the sandbox's PUT refuses any request with Authorization
    assert httpx.get(url).content == media("mp3").read_bytes()


def test_older_deployment_falls_back_to_the_binary_route(
    media: Callable[[str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    seen = Seen()
    with (
        Sandbox(SandboxConfig(clock_scale=0, wavespeed_upload_tickets=False)) as old,
        caplog.at_level("DEBUG", logger="preflight.client"),
        wavespeed(old, hooks={"request": [seen]}) as client,
    ):
        video = client.upload(media("ok"))
        audio = client.upload(media("mp3"))
        task = client.submit(AUDIO_TO_VIDEO_MODEL, video=video, audio=audio)
        done = client.wait(task)
        assert old.uploads() == []
    assert done.status is TaskStatus.SUCCEEDED
    # the current route is asked once; once it is known to be missing, binary only
    assert [f"{r.method} {r.url.path}" for r in seen.requests[:3]] == [
        "POST /api/v3/media/uploads",
        "POST /api/v3/media/upload/binary",
        "POST /api/v3/media/upload/binary",
    ]
    assert "older WaveSpeed deployment" in caplog.text
    assert "/api/v3/media/upload/binary" in caplog.text


@pytest.mark.anyio
async def test_async_upload_on_both_routes(media: Callable[[str], Path]) -> None:
    for tickets in (True, False):
        with Sandbox(SandboxConfig(clock_scale=0, wavespeed_upload_tickets=tickets)) as sb:
            async with awavespeed(sb) as client:
                url = await client.upload(media("m4a"))
            assert httpx.get(url).content == media("m4a").read_bytes()
            assert len(sb.uploads()) == (1 if tickets else 0)


def test_an_expired_upload_url_is_a_clear_error_without_the_token(
    sandbox: Sandbox, media: Callable[[str], Path]
) -> None:
    puts: list[str] = []

    def expire_before_put(request: httpx.Request) -> None:
        if request.method == "PUT":
            puts.append(str(request.url))
            sandbox.advance(3600)  # the URL expires between instruction and PUT

    with (
        wavespeed(sandbox, hooks={"request": [expire_before_put]}) as client,
        pytest.raises(APIError, match=r"HTTP 403 \(AccessDenied: Request has expired\)") as info,
    ):
        client.upload(media("mp3"))
    (url,) = puts  # a 403 is final: not retried
    token = url.rsplit("/", 1)[1]
    assert token not in str(info.value)
    assert "127.0.0.1" in str(info.value)


def test_an_empty_or_missing_file_is_rejected_before_sending(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    seen = Seen()
    with wavespeed(sandbox, hooks={"request": [seen]}) as client:
        with pytest.raises(InvalidRequestError, match="is empty"):
            client.upload(empty)
        with pytest.raises(InvalidRequestError, match="not a file"):
            client.upload(tmp_path / "gone.mp4")
    assert seen.requests == []


def test_a_file_that_shrinks_before_the_put_is_a_clear_error(
    sandbox: Sandbox, media: Callable[[str], Path], tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(media("ok").read_bytes())

    def truncate_before_put(request: httpx.Request) -> None:
        if request.method == "PUT":
            clip.write_bytes(clip.read_bytes()[:1000])

    before = len(sandbox.uploads())
    with (
        wavespeed(sandbox, hooks={"request": [truncate_before_put]}) as client,
        pytest.raises(InvalidRequestError, match="changed size while it was being uploaded"),
    ):
        client.upload(clip)
    (record,) = sandbox.uploads()[before:]
    assert record["stored"] is False


def test_upload_above_the_cap_is_refused_at_the_instruction(
    media: Callable[[str], Path],
) -> None:
    video = media("ok")
    config = SandboxConfig(clock_scale=0, upload_max_bytes=video.stat().st_size - 1)
    seen = Seen()
    with (
        Sandbox(config) as small,
        wavespeed(small, hooks={"request": [seen]}) as client,
        pytest.raises(InvalidRequestError, match="larger than") as info,
    ):
        client.upload(video)
    assert info.value.http_status == 413
    assert [r.method for r in seen.requests] == ["POST"]  # no PUT, no fallback


# retry policy at the transport level (MockTransport: the sandbox has no PUT faults)
def _scripted(answers: list[tuple[str, int]], seen: list[httpx.Request]) -> httpx.MockTransport:
    script = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        method, status = script.pop(0)
        assert request.method == method
        if method == "POST" and status == 200:
            data = {
                "upload": {
                    "method": "PUT",
                    "url": "https://storage.example/put?sig=SECRET",
                    "headers": {"Content-Type": "audio/mpeg"},
                },
                "download_url": "https://cdn.example/voice.mp3",
            }
            return httpx.Response(200, json={"code": 200, "message": "success", "data": data})
        if method == "POST":
            return httpx.Response(status, json={"code": 5000, "message": "busy", "data": None})
        return httpx.Response(status, text="" if status == 200 else "<Error/>")

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(
    "answers",
    [
        [("POST", 500), ("POST", 200), ("PUT", 200)],
        [("POST", 200), ("PUT", 503), ("PUT", 200)],
    ],
    ids=["instruction-retried", "put-retried"],
)
def test_upload_retries_the_instruction_and_the_put(
    answers: list[tuple[str, int]], media: Callable[[str], Path]
) -> None:
    seen: list[httpx.Request] = []
    pauses: list[float] = []
    with (
        httpx.Client(transport=_scripted(answers, seen)) as http,
        WaveSpeedClient(
            "ws_key",
            base_url="https://api.example",
            http_client=http,
            retry=RetryPolicy(random=lambda: 0.0),
            sleep=pauses.append,
        ) as client,
    ):
        assert client.upload(media("mp3")) == "https://cdn.example/voice.mp3"
    assert len(seen) == 3
    assert len(pauses) == 1
    bodies = [r.content for r in seen if r.method == "PUT"]
    assert all(body == media("mp3").read_bytes() for body in bodies)  # the same bytes again
    assert all("authorization" not in r.headers for r in seen if r.method == "PUT")


def test_a_put_that_keeps_failing_gives_up_without_leaking_the_url(
    media: Callable[[str], Path],
) -> None:
    seen: list[httpx.Request] = []
    answers = [("POST", 200)] + [("PUT", 503)] * 3
    with (
        httpx.Client(transport=_scripted(answers, seen)) as http,
        WaveSpeedClient(
            "ws_key",
            base_url="https://api.example",
            http_client=http,
            retry=RetryPolicy(max_retries=2, random=lambda: 0.0),
            sleep=lambda s: None,
        ) as client,
        pytest.raises(ServerError, match=r"storage\.example answered HTTP 503") as info,
    ):
        client.upload(media("mp3"))
    assert "SECRET" not in str(info.value)
    assert len(seen) == 4
