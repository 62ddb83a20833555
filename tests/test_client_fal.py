"""FalClient / AsyncFalClient against the sandbox's fal queue API over loopback HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sandbox_support import Receiver

from preflight.client import (
    FAL_AUDIO_TO_VIDEO_MODEL,
    FAL_TEXT_TO_VIDEO_MODEL,
    AsyncFalClient,
    FalClient,
    RetryPolicy,
    TaskKind,
    TaskStatus,
    parse_callback,
)
from preflight.model.errors import (
    AccountError,
    APIConnectionError,
    AuthenticationError,
    InvalidRequestError,
    MissingKeyError,
    ServerError,
    TaskFailedError,
)
from preflight.sandbox import Faults, Sandbox, SandboxConfig


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


@pytest.fixture(scope="module")
def audio_url(sandbox: Sandbox, media: Callable[[str], Path]) -> str:
    return sandbox.serve_file(media("mp3"))


@contextlib.contextmanager
def fal(sandbox: Sandbox, **kwargs: Any) -> Iterator[FalClient]:
    kwargs.setdefault("sleep", sandbox.advance)
    kwargs.setdefault("retry", RetryPolicy(random=lambda: 0.0))
    key = kwargs.pop("key", sandbox.fal_key)
    with (
        httpx.Client(timeout=30, event_hooks=kwargs.pop("hooks", {})) as http,
        FalClient(key, base_url=sandbox.url, http_client=http, **kwargs) as client,
    ):
        yield client


def test_audio_to_video_submit_status_progress_result_download(
    sandbox: Sandbox, video_url: str, audio_url: str, tmp_path: Path
) -> None:
    seen: list[tuple[TaskStatus, str | None]] = []
    # each poll moves the sandbox clock by less than a stage lasts, so every stage is seen
    with fal(sandbox, sleep=lambda _: sandbox.advance(0.04)) as client:
        task = client.submit(FAL_AUDIO_TO_VIDEO_MODEL, video_url=video_url, audio_url=audio_url)
        assert task.status is TaskStatus.SUBMITTED
        assert task.kind is TaskKind.FAL
        assert task.status_message == "in queue, position 0"
        assert len(task.id) == 36
        assert task.id.count("-") == 4
        done = client.wait(task, on_update=lambda t: seen.append((t.status, t.status_message)))
        output = client.result(task.id)
        path = client.download(done, tmp_path / "fal.mp4")
    statuses = [s for s, _ in seen]
    assert statuses[0] is TaskStatus.SUBMITTED
    assert TaskStatus.PROCESSING in statuses
    assert (TaskStatus.PROCESSING, "lip-sync started") in seen  # the last log line
    assert statuses[-1] is TaskStatus.SUCCEEDED
    assert done.video_url == output["video"]["url"]
    assert output["video"]["content_type"] == "video/mp4"
    assert output["video"]["file_size"] == path.stat().st_size
    assert b"ftyp" in path.read_bytes()[:12]
    assert sandbox.task(task.id).endpoint == FAL_AUDIO_TO_VIDEO_MODEL


def test_upload_then_text_to_video(
    sandbox: Sandbox, media: Callable[[str], Path], tmp_path: Path
) -> None:
    with fal(sandbox) as client:
        video = client.upload(media("ok"))
        task = client.submit(
            FAL_TEXT_TO_VIDEO_MODEL, video_url=video, text="Hello there", voice_id="AOT"
        )
        done = client.wait(task.id)  # by id alone: both models share one app
    assert video.startswith(sandbox.url)
    assert httpx.get(video).content == media("ok").read_bytes()
    assert done.status is TaskStatus.SUCCEEDED
    assert done.model is None  # looked up by id alone: the answer does not name the model
    assert task.model == FAL_TEXT_TO_VIDEO_MODEL
    params = sandbox.task(task.id).params
    assert (params["voice_language"], params["voice_speed"]) == ("en", 1.0)  # fal's defaults


def test_upload_token_is_fetched_once_and_the_key_never_reaches_the_cdn(
    sandbox: Sandbox, media: Callable[[str], Path]
) -> None:
    sent: list[tuple[str, str]] = []
    hooks = {"request": [lambda r: sent.append((r.url.path, r.headers["authorization"]))]}
    with fal(sandbox, hooks=hooks) as client:
        client.upload(media("mp3"))
        client.upload(media("wav"))
    assert [p for p, _ in sent] == ["/storage/auth/token", "/files/upload", "/files/upload"]
    assert sent[0][1] == f"Key {sandbox.fal_key}"
    assert all(sandbox.fal_key not in auth and auth.startswith("Bearer ") for _, auth in sent[1:])


def test_cancel_a_queued_request(sandbox: Sandbox, video_url: str, audio_url: str) -> None:
    with fal(sandbox) as client:
        task = client.submit(FAL_AUDIO_TO_VIDEO_MODEL, video_url=video_url, audio_url=audio_url)
        assert client.cancel(task.id) == "CANCELLATION_REQUESTED"
        now = client.status(task.id)
        assert client.cancel(task.id) == "ALREADY_COMPLETED"
        with pytest.raises(TaskFailedError, match="cancelled"):
            client.wait(task.id)
    assert now.status is TaskStatus.FAILED
    assert now.raw["error_type"] == "request_cancelled"
    assert sandbox.task(task.id).status == "failed"


def test_unknown_request_is_not_found(sandbox: Sandbox) -> None:
    with fal(sandbox) as client, pytest.raises(InvalidRequestError) as info:
        client.status("00000000-0000-4000-8000-000000000000")
    assert info.value.http_status == 404


def test_failed_request_raises_with_its_reason(
    sandbox: Sandbox, video_url: str, audio_url: str
) -> None:
    sandbox.set_faults(fail_every=1)
    with fal(sandbox) as client:
        task = client.submit(FAL_AUDIO_TO_VIDEO_MODEL, video_url=video_url, audio_url=audio_url)
        with pytest.raises(TaskFailedError, match="no human") as info:
            client.wait(task)
    assert info.value.task_id == task.id


def test_provider_error_names_the_field(sandbox: Sandbox, video_url: str) -> None:
    with fal(sandbox) as client, pytest.raises(InvalidRequestError, match="audio_url") as info:
        client.submit(FAL_AUDIO_TO_VIDEO_MODEL, video_url=video_url)
    assert info.value.http_status == 422


def test_media_the_model_refuses_is_an_invalid_request(
    sandbox: Sandbox, media: Callable[[str], Path], audio_url: str
) -> None:
    short = sandbox.serve_file(media("short"))
    with fal(sandbox) as client, pytest.raises(InvalidRequestError, match=r"lasts 1\.00 s"):
        client.submit(FAL_AUDIO_TO_VIDEO_MODEL, video_url=short, audio_url=audio_url)


def test_bad_key_is_refused_and_never_echoed(sandbox: Sandbox, video_url: str) -> None:
    wrong = "fal_wrong_" + "x" * 24
    before = len(sandbox.tasks("fal"))
    with fal(sandbox, key=wrong) as client, pytest.raises(AuthenticationError) as info:
        client.submit(FAL_AUDIO_TO_VIDEO_MODEL, video_url=video_url, audio_url=video_url)
    assert info.value.http_status == 401
    assert wrong not in str(info.value)
    assert wrong not in repr(info.value)
    assert len(sandbox.tasks("fal")) == before  # nothing was queued


def test_missing_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAL_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="FAL_KEY"):
        FalClient()


def test_repr_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAL_KEY", "fal_secret_value")
    monkeypatch.delenv("FAL_BASE_URL", raising=False)
    monkeypatch.setenv("FAL_QUEUE_RUN_HOST", "queue.example.test")
    with FalClient() as client:
        assert client.base_url == "https://queue.example.test"
        assert "fal_secret_value" not in repr(client)
        assert client._core.rest_url == "https://rest.fal.ai"
    monkeypatch.setenv("FAL_BASE_URL", "http://127.0.0.1:9")
    with FalClient() as client:
        assert client.base_url == client._core.rest_url == client._core.cdn_url


def test_billing_refusal_is_an_account_error(
    sandbox: Sandbox, video_url: str, audio_url: str
) -> None:
    sandbox.set_faults(billing_every=1)
    with fal(sandbox) as client, pytest.raises(AccountError, match="Exhausted balance"):
        client.submit(FAL_AUDIO_TO_VIDEO_MODEL, video_url=video_url, audio_url=audio_url)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("drop_after_create_every", APIConnectionError),
        ("server_error_after_create_every", ServerError),
    ],
)
def test_ambiguous_submit_is_not_sent_again(
    sandbox: Sandbox, video_url: str, audio_url: str, fault: str, error: type[Exception]
) -> None:
    sandbox.set_faults(**{fault: 1})
    posts: list[str] = []
    before = len(sandbox.tasks("fal"))
    hooks = {"request": [lambda r: posts.append(r.method)]}
    with fal(sandbox, hooks=hooks) as client, pytest.raises(error, match="may have been queued"):
        client.submit(FAL_AUDIO_TO_VIDEO_MODEL, video_url=video_url, audio_url=audio_url)
    assert posts == ["POST"]
    assert len(sandbox.tasks("fal")) == before + 1  # it did exist: exactly one


def test_429_on_submit_is_retried(sandbox: Sandbox, video_url: str, audio_url: str) -> None:
    sandbox.set_faults(rate_limit_every=2)
    statuses: list[int] = []
    with fal(sandbox, hooks={"response": [lambda r: statuses.append(r.status_code)]}) as c:
        c.submit(FAL_AUDIO_TO_VIDEO_MODEL, video_url=video_url, audio_url=audio_url)
        c.submit(FAL_AUDIO_TO_VIDEO_MODEL, video_url=video_url, audio_url=audio_url)
    assert statuses == [200, 429, 200]


def test_webhook_is_called_once_when_done(sandbox: Sandbox, video_url: str, audio_url: str) -> None:
    with Receiver() as receiver, fal(sandbox) as client:
        task = client.submit(
            FAL_AUDIO_TO_VIDEO_MODEL,
            webhook=receiver.url,
            video_url=video_url,
            audio_url=audio_url,
        )
        done = client.wait(task)
        receiver.wait(1)
        bodies = receiver.bodies()
    assert len(bodies) == 1
    assert bodies[0]["request_id"] == task.id
    assert bodies[0]["status"] == "OK"
    assert bodies[0]["payload"]["video"]["url"] == done.video_url


async def _advance(sandbox: Sandbox, seconds: float) -> None:
    await anyio.to_thread.run_sync(sandbox.advance, seconds)


@contextlib.asynccontextmanager
async def afal(sandbox: Sandbox) -> AsyncIterator[AsyncFalClient]:
    async with (
        httpx.AsyncClient(timeout=30) as http,
        AsyncFalClient(
            sandbox.fal_key,
            base_url=sandbox.url,
            http_client=http,
            sleep=lambda s: _advance(sandbox, s),
            retry=RetryPolicy(random=lambda: 0.0),
        ) as client,
    ):
        yield client


@pytest.mark.anyio
async def test_async_upload_submit_wait_cancel(
    sandbox: Sandbox, media: Callable[[str], Path], tmp_path: Path
) -> None:
    async with afal(sandbox) as client:
        video = await client.upload(media("ok"))
        task = await client.submit(
            FAL_TEXT_TO_VIDEO_MODEL, video_url=video, text="Hey", voice_id="AOT"
        )
        done = await client.wait(task)
        again = await client.status(task.id)
        path = await client.download(done, tmp_path / "a.mp4")
        assert await client.cancel(task.id) == "ALREADY_COMPLETED"
    assert done.status is again.status is TaskStatus.SUCCEEDED
    assert path.stat().st_size > 0


def test_parse_callback_reads_fals_webhook() -> None:
    done = parse_callback(
        b'{"request_id": "r-1", "gateway_request_id": "r-1", "status": "OK",'
        b' "payload": {"video": {"url": "https://cdn.example/out.mp4"}}}'
    )
    assert (done.provider, done.id, done.status) == ("fal", "r-1", TaskStatus.SUCCEEDED)
    assert done.video_url == "https://cdn.example/out.mp4"
    failed = parse_callback({"request_id": "r-2", "status": "ERROR", "error": "no face"})
    assert (failed.status, failed.status_message) == (TaskStatus.FAILED, "no face")


def test_policy_retries_a_status_poll_but_never_a_submit() -> None:
    """Transport-level unit test of the policy (MockTransport): a 503 on a poll is retried; a 503
    on a submit is ambiguous (the request may be queued) and is not sent again."""
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if len(calls) == 1 or request.method == "POST":
            return httpx.Response(503, json={"detail": "busy"})
        return httpx.Response(200, json={"status": "IN_QUEUE", "queue_position": 3})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    policy = RetryPolicy(random=lambda: 0.0)
    with FalClient(
        "k", base_url="https://q.test", http_client=http, retry=policy, sleep=lambda _: None
    ) as c:
        task = c.status("abc")
        assert task.status_message == "in queue, position 3"
        assert calls == ["GET /fal-ai/kling-video/requests/abc/status"] * 2
        with pytest.raises(ServerError, match="may have been queued"):
            c.submit(
                FAL_AUDIO_TO_VIDEO_MODEL, video_url="https://x/v.mp4", audio_url="https://x/a.mp3"
            )
    assert calls[2:] == ["POST /fal-ai/kling-video/lipsync/audio-to-video"]
