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
