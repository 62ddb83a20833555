"""KlingClient and AsyncKlingClient against the real sandbox, over loopback HTTP.

The sandbox clock is manual (``clock_scale=0``): the clients' ``sleep`` is the sandbox's
``advance``, so waiting and backing off move the provider's time instead of the test's.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import pytest

from preflight.client import AsyncKlingClient, KlingClient, RetryPolicy, Task, TaskStatus
from preflight.client.models import TaskKind
from preflight.model.errors import (
    AccountError,
    APITimeoutError,
    AuthenticationError,
    InvalidRequestError,
    TaskFailedError,
)
from preflight.sandbox import Faults, Sandbox, SandboxConfig

TEXT = "Hello from preflight."
VOICE = "genshin_klee2"


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


class Wire:
    """Records what went over the wire (method, path, status, Authorization) via event hooks."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.statuses: list[int] = []

    def on_request(self, request: httpx.Request) -> None:
        self.sent.append(
            (request.method, request.url.path, request.headers.get("authorization", ""))
        )

    def on_response(self, response: httpx.Response) -> None:
        self.statuses.append(response.status_code)

    async def aon_request(self, request: httpx.Request) -> None:
        self.on_request(request)

    async def aon_response(self, response: httpx.Response) -> None:
        self.on_response(response)

    @property
    def posts(self) -> int:
        return sum(1 for method, _, _ in self.sent if method == "POST")


@contextlib.contextmanager
def kling(
    sandbox: Sandbox,
    wire: Wire | None = None,
    *,
    hooks: dict[str, list[Any]] | None = None,
    **kwargs: Any,
) -> Iterator[KlingClient]:
    """A client on the sandbox, through our own httpx.Client (closed afterwards)."""
    if wire is not None:
        hooks = {"request": [wire.on_request], "response": [wire.on_response]}
    kwargs.setdefault("sleep", sandbox.advance)
    kwargs.setdefault("retry", RetryPolicy(random=lambda: 0.0))
    with (
        httpx.Client(event_hooks=hooks or {}, timeout=30) as http,
        KlingClient(
            sandbox.kling_access_key,
            sandbox.kling_secret_key,
            base_url=sandbox.url,
            http_client=http,
            **kwargs,
        ) as client,
    ):
        yield client


async def _advance_in_thread(sandbox: Sandbox, seconds: float) -> None:
    await anyio.to_thread.run_sync(sandbox.advance, seconds)


@contextlib.asynccontextmanager
async def akling(
    sandbox: Sandbox, wire: Wire | None = None, **kwargs: Any
) -> AsyncIterator[AsyncKlingClient]:
    hooks = {"request": [wire.aon_request], "response": [wire.aon_response]} if wire else {}
    kwargs.setdefault("sleep", lambda s: _advance_in_thread(sandbox, s))
    kwargs.setdefault("retry", RetryPolicy(random=lambda: 0.0))
    async with (
        httpx.AsyncClient(event_hooks=hooks, timeout=30) as http,  # type: ignore[arg-type]
        AsyncKlingClient(
            base_url=sandbox.url,
            access_key=sandbox.kling_access_key,
            secret_key=sandbox.kling_secret_key,
            http_client=http,
            **kwargs,
        ) as client,
    ):
        yield client


def assert_video(path: Path) -> None:
    head = path.read_bytes()[:12]
    assert b"ftyp" in head, head
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".part")]


# --- lip-sync, sync -----------------------------------------------------------------------------
def test_text_lip_sync_sends_the_documented_body_and_ends_with_a_video(
    sandbox: Sandbox, video_url: str, tmp_path: Path
) -> None:
    updates: list[TaskStatus] = []
    with kling(sandbox) as client:
        task = client.create_lip_sync(
            video_url=video_url, text=TEXT, voice_id=VOICE, voice_speed=1.25
        )
        assert task.status is TaskStatus.SUBMITTED
        assert task.kind is TaskKind.LIP_SYNC
        assert task.id.isdigit()
        assert len(task.id) >= 18
        done = client.wait(task, on_update=lambda t: updates.append(t.status))
        saved = client.download(done, tmp_path / "out.mp4")
    params = sandbox.task(task.id).params
    assert params["mode"] == "text2video"
    assert params["voice_language"] == "en"  # always sent, our documented default
    assert params["voice_speed"] == 1.3  # one decimal, half up
    assert done.status is TaskStatus.SUCCEEDED
    assert updates[-1] is TaskStatus.SUCCEEDED
    assert len(updates) >= 2
    assert done.videos[0].duration
    assert done.videos[0].duration > 0
    assert done.created_at is not None
    assert_video(saved)


def test_audio_url_lip_sync(sandbox: Sandbox, video_url: str, audio_url: str) -> None:
    with kling(sandbox) as client:
        task = client.create_lip_sync(video_url=video_url, audio_url=audio_url)
        done = client.wait(task.id)  # a bare id works too
    params = sandbox.task(task.id).params
    assert (params["mode"], params["audio_type"], params["audio_url"]) == (
        "audio2video",
        "url",
        audio_url,
    )
    assert done.status is TaskStatus.SUCCEEDED


def test_local_audio_goes_as_raw_base64(
    sandbox: Sandbox, video_url: str, media: Callable[[str], Path]
) -> None:
    sent: list[bytes] = []
    with kling(sandbox, hooks={"request": [lambda r: sent.append(r.read())]}) as client:
        task = client.create_lip_sync(video_url=video_url, audio_file=media("wav"))
        done = client.wait(task)
    body = json.loads(sent[0])
    assert set(body) == {"input", "external_task_id"}
    assert body["input"]["audio_type"] == "file"
    assert not body["input"]["audio_file"].startswith("data:")
    assert base64.b64decode(body["input"]["audio_file"]) == media("wav").read_bytes()
    assert done.status is TaskStatus.SUCCEEDED


@pytest.mark.parametrize(
    "fields",
    [
        {"text": TEXT, "voice_id": VOICE, "audio_url": "http://127.0.0.1/a.mp3"},
        {"text": TEXT},
        {},
        {"audio_url": "http://127.0.0.1/a.mp3", "voice_id": VOICE},
        {"audio_url": "http://127.0.0.1/a.mp3", "audio_file": "a.mp3"},
        {"video_id": "123", "text": TEXT, "voice_id": VOICE},  # with video_url too
    ],
)
def test_wrong_combinations_are_refused_before_any_request(
    sandbox: Sandbox, video_url: str, fields: dict[str, Any]
) -> None:
    wire = Wire()
    with kling(sandbox, wire) as client, pytest.raises(InvalidRequestError, match="before sending"):
        client.create_lip_sync(video_url=video_url, **fields)
    assert wire.sent == []


def test_unreadable_local_audio_is_refused_before_any_request(
    sandbox: Sandbox, video_url: str, tmp_path: Path
) -> None:
    wire = Wire()
    with kling(sandbox, wire) as client, pytest.raises(InvalidRequestError, match="cannot read"):
        client.create_lip_sync(video_url=video_url, audio_file=tmp_path / "missing.mp3")
    assert wire.sent == []


def test_list_pages_and_iterate_over_all(sandbox: Sandbox, video_url: str, audio_url: str) -> None:
    with kling(sandbox) as client:
        for _ in range(5):
            client.create_lip_sync(video_url=video_url, audio_url=audio_url)
        everything = [t.id for t in sandbox.tasks("kling", "lip-sync")][::-1]  # newest first
        first = client.list_lip_sync(page=1, page_size=2)
        second = client.list_lip_sync(page=2, page_size=2)
        walked = [t.id for t in client.iter_lip_sync(page_size=2)]
    assert [t.id for t in first] == everything[:2]
    assert [t.id for t in second] == everything[2:4]
    assert walked == everything
    assert len(set(walked)) == len(walked) >= 5


def test_wait_raises_the_providers_reason_when_the_task_fails(
    sandbox: Sandbox, video_url: str, audio_url: str
) -> None:
    sandbox.set_faults(fail_every=1)
    seen: list[Task] = []
    with kling(sandbox) as client:
        task = client.create_lip_sync(video_url=video_url, audio_url=audio_url)
        with pytest.raises(TaskFailedError, match="no human in the video") as info:
            client.wait(task, on_update=seen.append)
        final = client.get_lip_sync(task.id)
    assert info.value.task_id == task.id
    assert seen[-1].status is TaskStatus.FAILED
    assert final.status_message == "Lip-sync failed: there is no human in the video"


def test_wait_gives_up_after_its_timeout_on_the_clients_clock(
    sandbox: Sandbox, video_url: str, audio_url: str, tmp_path: Path
) -> None:
    now = [time.time()]
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the provider's time stands still; only ours moves
        slept.append(seconds)
        now[0] += seconds

    with kling(sandbox, clock=lambda: now[0], sleep=sleep) as client:
        task = client.create_lip_sync(video_url=video_url, audio_url=audio_url)
        with pytest.raises(APITimeoutError, match="still submitted after 30s"):
            client.wait(task, timeout=30)
        with pytest.raises(InvalidRequestError, match="no result video"):
            client.download(task, tmp_path / "none.mp4")
    assert slept == sorted(slept)
    assert slept[0] == 1.0
    assert sum(slept) <= 30
    assert list(tmp_path.iterdir()) == []


def test_image2video_is_found_by_external_id(
    sandbox: Sandbox, media: Callable[[str], Path], tmp_path: Path
) -> None:
    with kling(sandbox) as client:
        task = client.create_image2video(
            image_file=media("jpg"), prompt="a calm face", external_task_id="order-42"
        )
        by_external = client.get_image2video(external_task_id="order-42")
        done = client.wait(by_external)
        client.download(done, tmp_path / "i2v.mp4")
    assert by_external.id == task.id
    assert by_external.external_task_id == "order-42"
    assert done.kind is TaskKind.IMAGE2VIDEO
    assert done.status is TaskStatus.SUCCEEDED
    assert_video(tmp_path / "i2v.mp4")


def test_advanced_lip_sync(sandbox: Sandbox, video_url: str, media: Callable[[str], Path]) -> None:
    with kling(sandbox) as client:
        session = client.identify_face(video_url=video_url)
        face = session.faces[0]
        task = client.create_advanced_lip_sync(
            session_id=session.session_id,
            face_id=face.face_id,
            audio_file=media("mp3"),
            sound_end_time=3000,
        )
        done = client.wait(task)
        again = client.get_advanced_lip_sync(task.id)
    assert session.session_id
    assert face.end_time_ms
    assert face.end_time_ms >= 3000
    assert task.kind is TaskKind.ADVANCED_LIP_SYNC
    assert done.status is again.status is TaskStatus.SUCCEEDED


# --- auth ---------------------------------------------------------------------------------------
def test_token_is_cached_then_renewed_before_it_expires(
    sandbox: Sandbox, video_url: str, audio_url: str
) -> None:
    offset = [-1700.0]  # the first token expires 100 s from now (real time)
    wire = Wire()
    with kling(sandbox, wire, clock=lambda: time.time() + offset[0]) as client:
        client.list_lip_sync(page_size=1)
        client.list_lip_sync(page_size=1)
        offset[0] = 0.0  # 1700 s later: inside the renewal margin
        client.list_lip_sync(page_size=1)
    tokens = [auth.removeprefix("Bearer ") for _, _, auth in wire.sent]
    assert tokens[0] == tokens[1] != tokens[2]
    assert wire.statuses == [200, 200, 200]
    claims = jwt.decode(tokens[2], sandbox.kling_secret_key, algorithms=["HS256"])
    assert claims["iss"] == sandbox.kling_access_key
    assert claims["exp"] - claims["nbf"] == 1805


def test_a_token_the_server_finds_expired_is_renewed_once(sandbox: Sandbox) -> None:
    offset = [-1900.0]  # the client's clock lags: its first token is already expired
    wire = Wire()
    hooks = {
        "request": [wire.on_request],
        "response": [wire.on_response, lambda r: offset.__setitem__(0, 0.0)],  # clock is fixed
    }
    with kling(sandbox, hooks=hooks, clock=lambda: time.time() + offset[0]) as client:
        assert client.list_lip_sync(page_size=1) is not None
    assert wire.statuses == [401, 200]


def test_renewal_happens_once_only(sandbox: Sandbox) -> None:
    sandbox.set_faults(expire_next_tokens=2)
    wire = Wire()
    with kling(sandbox, wire) as client, pytest.raises(AuthenticationError) as info:
        client.list_lip_sync()
    assert info.value.code == 1004
    assert wire.statuses == [401, 401]
    sandbox.set_faults(expire_next_tokens=1)
    with kling(sandbox, wire) as client:
        client.list_lip_sync()
    assert wire.statuses == [401, 401, 401, 200]


# --- retries and money --------------------------------------------------------------------------
def test_create_waits_out_1303_and_retries(
    sandbox: Sandbox, video_url: str, audio_url: str
) -> None:
    sandbox.settle()
    sandbox.set_faults(max_open_tasks=sandbox.open_tasks + 1)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        sandbox.advance(seconds)

    wire = Wire()
    before = len(sandbox.tasks())
    with kling(sandbox, wire, sleep=sleep) as client:
        first = client.create_lip_sync(video_url=video_url, audio_url=audio_url)
        second = client.create_lip_sync(video_url=video_url, audio_url=audio_url)
    assert 429 in wire.statuses
    assert slept
    assert min(slept) >= 1.0
    assert first.id != second.id
    assert len(sandbox.tasks()) == before + 2


def test_no_retry_on_1102(sandbox: Sandbox, video_url: str, audio_url: str) -> None:
    sandbox.set_faults(billing_every=1)
    slept: list[float] = []
    wire = Wire()
    before = len(sandbox.tasks())
    with kling(sandbox, wire, sleep=slept.append) as client, pytest.raises(AccountError) as info:
        client.create_lip_sync(video_url=video_url, audio_url=audio_url)
    assert info.value.code == 1102
    assert info.value.http_status == 429
    assert info.value.request_id
    assert (wire.posts, slept, len(sandbox.tasks())) == (1, [], before)


@pytest.mark.parametrize("fault", ["drop_after_create_every", "server_error_after_create_every"])
def test_ambiguous_lip_sync_create_returns_the_one_task_it_made(
    sandbox: Sandbox, video_url: str, audio_url: str, fault: str
) -> None:
    sandbox.set_faults(**{fault: 1})
    before = {t.id for t in sandbox.tasks()}
    wire = Wire()
    with kling(sandbox, wire) as client:
        task = client.create_lip_sync(video_url=video_url, text=TEXT, voice_id=VOICE)
    made = [t for t in sandbox.tasks() if t.id not in before]
    assert [t.id for t in made] == [task.id]
    assert wire.posts == 1
    assert task.external_task_id == made[0].external_task_id


@pytest.mark.parametrize("fault", ["drop_after_create_every", "server_error_after_create_every"])
def test_ambiguous_image2video_and_advanced_creates_make_one_task(
    sandbox: Sandbox, video_url: str, media: Callable[[str], Path], fault: str
) -> None:
    with kling(sandbox) as client:
        session = client.identify_face(video_url=video_url)
        sandbox.set_faults(**{fault: 1})
        before = {t.id for t in sandbox.tasks()}
        i2v = client.create_image2video(image_file=media("jpg"))
        adv = client.create_advanced_lip_sync(
            session_id=session.session_id,
            face_id=session.faces[0].face_id,
            audio_file=media("mp3"),
            sound_end_time=3000,
        )
    made = sorted(t.id for t in sandbox.tasks() if t.id not in before)
    assert made == sorted([i2v.id, adv.id])


# --- async ---------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_async_both_modes_wait_and_download(
    sandbox: Sandbox, video_url: str, media: Callable[[str], Path], tmp_path: Path
) -> None:
    async with akling(sandbox) as client:
        text = await client.create_lip_sync(video_url=video_url, text=TEXT, voice_id=VOICE)
        audio = await client.create_lip_sync(video_url=video_url, audio_file=media("m4a"))
        done = [await client.wait(t) for t in (text, audio)]
        saved = await client.download(done[1], tmp_path / "a.mp4")
    assert [sandbox.task(t.id).params["mode"] for t in done] == ["text2video", "audio2video"]
    assert all(t.status is TaskStatus.SUCCEEDED for t in done)
    assert_video(saved)


@pytest.mark.anyio
async def test_async_list_paging(sandbox: Sandbox, video_url: str, audio_url: str) -> None:
    async with akling(sandbox) as client:
        for _ in range(3):
            await client.create_lip_sync(video_url=video_url, audio_url=audio_url)
        walked = [t.id async for t in client.iter_lip_sync(page_size=2)]
        page = await client.list_lip_sync(page=1, page_size=3)
    assert walked == [t.id for t in sandbox.tasks("kling", "lip-sync")][::-1]
    assert [t.id for t in page] == walked[:3]


@pytest.mark.anyio
async def test_async_wait_on_a_failing_task(
    sandbox: Sandbox, video_url: str, audio_url: str
) -> None:
    sandbox.set_faults(fail_every=1)
    async with akling(sandbox) as client:
        task = await client.create_lip_sync(video_url=video_url, audio_url=audio_url)
        with pytest.raises(TaskFailedError, match="no human"):
            await client.wait(task)


@pytest.mark.anyio
async def test_async_image2video_and_advanced(
    sandbox: Sandbox, video_url: str, media: Callable[[str], Path]
) -> None:
    async with akling(sandbox) as client:
        i2v = await client.create_image2video(image_file=media("jpg"), external_task_id="a-77")
        found = await client.get_image2video(external_task_id="a-77")
        session = await client.identify_face(video_url=video_url)
        adv = await client.create_advanced_lip_sync(
            session_id=session.session_id,
            face_id=session.faces[0].face_id,
            audio_url=sandbox.serve_file(media("mp3")),
            sound_end_time=2500,
        )
        done = await client.wait(adv)
        fetched = await client.get_advanced_lip_sync(adv.id)
    assert found.id == i2v.id
    assert done.status is fetched.status is TaskStatus.SUCCEEDED


@pytest.mark.anyio
async def test_async_retry_after_1303_and_renewal(
    sandbox: Sandbox, video_url: str, audio_url: str
) -> None:
    await anyio.to_thread.run_sync(sandbox.settle)
    sandbox.set_faults(concurrency_every=2, expire_next_tokens=1)
    wire = Wire()
    before = len(sandbox.tasks())
    async with akling(sandbox, wire) as client:
        await client.create_lip_sync(video_url=video_url, audio_url=audio_url)
        await client.create_lip_sync(video_url=video_url, audio_url=audio_url)
    assert wire.statuses == [401, 200, 429, 200]
    assert len(sandbox.tasks()) == before + 2


@pytest.mark.anyio
async def test_async_ambiguous_create_and_no_retry_on_1102(
    sandbox: Sandbox, video_url: str, audio_url: str
) -> None:
    sandbox.set_faults(drop_after_create_every=1)
    before = {t.id for t in sandbox.tasks()}
    async with akling(sandbox) as client:
        task = await client.create_lip_sync(video_url=video_url, audio_url=audio_url)
        assert [t.id for t in sandbox.tasks() if t.id not in before] == [task.id]
        sandbox.set_faults(billing_every=1)
        with pytest.raises(AccountError):
            await client.create_lip_sync(video_url=video_url, audio_url=audio_url)
    assert [t.id for t in sandbox.tasks() if t.id not in before] == [task.id]
