"""Kling's API: lip-sync, image to video, advanced lip-sync; sync and async clients.

Both clients run the same operations (:mod:`preflight.client._kling`), so they behave alike in
every respect but blocking. Configuration comes from arguments, else the environment:
``KLING_ACCESS_KEY``, ``KLING_SECRET_KEY``, ``KLING_BASE_URL`` (default the global host).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import anyio
import httpx

from preflight.client._auth import KlingAuth
from preflight.client._core import Call, Op, first_call
from preflight.client._kling import (
    DEFAULT_KLING_BASE_URL,
    KlingCore,
    lip_sync_body,
    media_field,
    new_external_task_id,
)
from preflight.client._policy import RetryPolicy
from preflight.client._transport import AsyncTransport, SyncTransport
from preflight.client.models import FaceSession, Task, TaskKind, TaskStatus
from preflight.model.errors import InvalidRequestError, MissingKeyError

__all__ = ["AsyncKlingClient", "KlingClient"]

T = TypeVar("T")

ITER_PAGE_SIZE = 100
MAX_PAGE = 1000  # Kling's pageNum is 1-1000


class _KlingBase:
    """Configuration and request building shared by the sync and async clients."""

    _core: KlingCore

    def _configure(
        self,
        access_key: str | None,
        secret_key: str | None,
        base_url: str | None,
        retry: RetryPolicy | None,
        clock: Callable[[], float],
    ) -> None:
        access_key = access_key or os.environ.get("KLING_ACCESS_KEY")
        secret_key = secret_key or os.environ.get("KLING_SECRET_KEY")
        if not access_key or not secret_key:
            raise MissingKeyError(
                "Kling needs an access key and a secret key: pass access_key= and secret_key=, "
                "or set KLING_ACCESS_KEY and KLING_SECRET_KEY",
                provider="kling",
                env=("KLING_ACCESS_KEY", "KLING_SECRET_KEY"),
            )
        base_url = base_url or os.environ.get("KLING_BASE_URL") or DEFAULT_KLING_BASE_URL
        self._core = KlingCore(
            KlingAuth(access_key, secret_key, clock=clock),
            base_url,
            policy=retry or RetryPolicy(),
            clock=clock,
        )

    @property
    def base_url(self) -> str:
        return self._core.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # --- operations (pure descriptions; the subclasses run them) -------------------------------
    def _create_lip_sync(self, **fields: Any) -> Op[Task]:
        return self._core.create(TaskKind.LIP_SYNC, lip_sync_body(**fields))

    def describe_lip_sync(self, **fields: Any) -> Call:
        """The request `create_lip_sync` would send with these arguments (the same code builds
        it: body, URL and a fresh token), sent nowhere. Redact its headers before showing them."""
        return first_call(self._create_lip_sync(**fields))

    def _create_image2video(
        self,
        *,
        image_url: str | None,
        image_file: str | os.PathLike[str] | None,
        model_name: str | None,
        prompt: str | None,
        negative_prompt: str | None,
        mode: str | None,
        duration: str | int | None,
        callback_url: str | None,
        external_task_id: str | None,
        extra: dict[str, Any],
    ) -> Op[Task]:
        body: dict[str, Any] = {"image": media_field(image_url, image_file, "image")}
        optional = {
            "model_name": model_name,
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "mode": mode,
            "duration": None if duration is None else str(duration),
            "callback_url": callback_url,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        body.update(extra)
        body["external_task_id"] = external_task_id or new_external_task_id()
        return self._core.create(TaskKind.IMAGE2VIDEO, body)

    def _get_image2video(self, task_id: str | None, external_task_id: str | None) -> Op[Task]:
        if (task_id is None) == (external_task_id is None):
            raise InvalidRequestError(
                "rejected before sending: give exactly one of task_id and external_task_id"
            )
        return self._core.get(TaskKind.IMAGE2VIDEO, task_id or external_task_id or "")

    def _identify_face(self, video_url: str | None, video_id: str | None) -> Op[FaceSession]:
        if bool(video_url) == bool(video_id):
            raise InvalidRequestError(
                "rejected before sending: give exactly one of video_url and video_id"
            )
        body = {"video_url": video_url} if video_url else {"video_id": video_id}
        return self._core.identify_face(body)

    def _create_advanced_lip_sync(
        self,
        *,
        session_id: str,
        face_id: str,
        audio_url: str | None,
        audio_file: str | os.PathLike[str] | None,
        audio_id: str | None,
        sound_start_time: int,
        sound_end_time: int,
        sound_insert_time: int,
        sound_volume: float,
        original_audio_volume: float,
        callback_url: str | None,
        external_task_id: str | None,
    ) -> Op[Task]:
        face: dict[str, Any] = {"face_id": face_id}
        if audio_id is not None:
            if audio_url is not None or audio_file is not None:
                raise InvalidRequestError(
                    "rejected before sending: give one of audio_id, audio_url and audio_file"
                )
            face["audio_id"] = audio_id
        else:
            face["sound_file"] = media_field(audio_url, audio_file, "audio")
        face.update(
            sound_start_time=int(sound_start_time),
            sound_end_time=int(sound_end_time),
            sound_insert_time=int(sound_insert_time),
            sound_volume=sound_volume,
            original_audio_volume=original_audio_volume,
        )
        body: dict[str, Any] = {"session_id": session_id, "face_choose": [face]}
        if callback_url:
            body["callback_url"] = callback_url
        body["external_task_id"] = external_task_id or new_external_task_id()
        return self._core.create(TaskKind.ADVANCED_LIP_SYNC, body)

    def _wait(
        self, task: Task | str, timeout: float | None, on_update: Callable[[Task], object] | None
    ) -> Op[Task]:
        start = task if isinstance(task, Task) else _stub(task)
        return self._core.wait(start, self._core.refresh, timeout=timeout, on_update=on_update)


def _stub(task_id: str) -> Task:
    return Task(id=task_id, status=TaskStatus.UNKNOWN, provider="kling", kind=TaskKind.LIP_SYNC)


class KlingClient(_KlingBase, SyncTransport[KlingCore]):
    """A blocking Kling client. Use as a context manager, or call :meth:`close`.

    ``http_client`` lets you bring your own ``httpx.Client`` (proxies, transports, limits); it is
    not closed by this client. ``clock`` (epoch seconds) and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        access_key: str | None = None,
        secret_key: str | None = None,
        *,
        base_url: str | None = None,
        http_client: httpx.Client | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._configure(access_key, secret_key, base_url, retry, clock)
        self._open(http_client, timeout, sleep)

    # --- lip-sync ------------------------------------------------------------------------------
    def create_lip_sync(
        self,
        *,
        video_url: str | None = None,
        video_id: str | None = None,
        text: str | None = None,
        voice_id: str | None = None,
        voice_language: str | None = None,
        voice_speed: float | None = None,
        audio_url: str | None = None,
        audio_file: str | os.PathLike[str] | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
    ) -> Task:
        """Start a lip-sync task: a video (URL or Kling id) with text+voice, or with audio.

        Wrong combinations raise :class:`~preflight.model.errors.InvalidRequestError` before any
        request. A local ``audio_file`` is sent as raw base64. Never starts two tasks.
        """
        op = self._create_lip_sync(
            video_url=video_url,
            video_id=video_id,
            text=text,
            voice_id=voice_id,
            voice_language=voice_language,
            voice_speed=voice_speed,
            audio_url=audio_url,
            audio_file=audio_file,
            callback_url=callback_url,
            external_task_id=external_task_id,
        )
        return self._run(op)

    def get_lip_sync(self, task_id: str) -> Task:
        return self._run(self._core.get(TaskKind.LIP_SYNC, task_id))

    def list_lip_sync(self, *, page: int = 1, page_size: int = 30) -> list[Task]:
        """One page of lip-sync tasks (``page`` 1-1000, ``page_size`` 1-500)."""
        return self._run(self._core.list(TaskKind.LIP_SYNC, page, page_size))

    def iter_lip_sync(self, *, page_size: int = ITER_PAGE_SIZE) -> Iterator[Task]:
        """Every lip-sync task, page after page, until a page comes back short."""
        for page in range(1, MAX_PAGE + 1):
            tasks = self.list_lip_sync(page=page, page_size=page_size)
            yield from tasks
            if len(tasks) < page_size:
                return

    # --- image to video ------------------------------------------------------------------------
    def create_image2video(
        self,
        *,
        image_url: str | None = None,
        image_file: str | os.PathLike[str] | None = None,
        model_name: str | None = None,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        mode: str | None = None,
        duration: str | int | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        **extra: Any,
    ) -> Task:
        """Start an image-to-video task (image by URL, or a local file sent as raw base64)."""
        op = self._create_image2video(
            image_url=image_url,
            image_file=image_file,
            model_name=model_name,
            prompt=prompt,
            negative_prompt=negative_prompt,
            mode=mode,
            duration=duration,
            callback_url=callback_url,
            external_task_id=external_task_id,
            extra=extra,
        )
        return self._run(op)

    def get_image2video(
        self, task_id: str | None = None, *, external_task_id: str | None = None
    ) -> Task:
        return self._run(self._get_image2video(task_id, external_task_id))

    # --- advanced lip-sync ---------------------------------------------------------------------
    def identify_face(
        self, *, video_url: str | None = None, video_id: str | None = None
    ) -> FaceSession:
        return self._run(self._identify_face(video_url, video_id))

    def create_advanced_lip_sync(
        self,
        *,
        session_id: str,
        face_id: str,
        sound_end_time: int,
        audio_url: str | None = None,
        audio_file: str | os.PathLike[str] | None = None,
        audio_id: str | None = None,
        sound_start_time: int = 0,
        sound_insert_time: int = 0,
        sound_volume: float = 1.0,
        original_audio_volume: float = 1.0,
        callback_url: str | None = None,
        external_task_id: str | None = None,
    ) -> Task:
        """Lip-sync one face of an ``identify_face`` session; times are in milliseconds."""
        op = self._create_advanced_lip_sync(
            session_id=session_id,
            face_id=face_id,
            audio_url=audio_url,
            audio_file=audio_file,
            audio_id=audio_id,
            sound_start_time=sound_start_time,
            sound_end_time=sound_end_time,
            sound_insert_time=sound_insert_time,
            sound_volume=sound_volume,
            original_audio_volume=original_audio_volume,
            callback_url=callback_url,
            external_task_id=external_task_id,
        )
        return self._run(op)

    def get_advanced_lip_sync(self, task_id: str) -> Task:
        return self._run(self._core.get(TaskKind.ADVANCED_LIP_SYNC, task_id))

    # --- any task ------------------------------------------------------------------------------
    def get_task(self, kind: TaskKind | str, task_id: str) -> Task:
        """A task of any endpoint (``kind``: "lip-sync", "image2video", "advanced-lip-sync")."""
        return self._run(self._core.get(TaskKind(kind), task_id))

    def list_tasks(self, kind: TaskKind | str, *, page: int = 1, page_size: int = 30) -> list[Task]:
        """One page of tasks of any endpoint, newest first."""
        return self._run(self._core.list(TaskKind(kind), page, page_size))


class AsyncKlingClient(_KlingBase, AsyncTransport[KlingCore]):
    """The asyncio/trio twin of :class:`KlingClient` (same methods, awaited)."""

    def __init__(
        self,
        access_key: str | None = None,
        secret_key: str | None = None,
        *,
        base_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = anyio.sleep,
    ) -> None:
        self._configure(access_key, secret_key, base_url, retry, clock)
        self._open(http_client, timeout, sleep)

    async def create_lip_sync(
        self,
        *,
        video_url: str | None = None,
        video_id: str | None = None,
        text: str | None = None,
        voice_id: str | None = None,
        voice_language: str | None = None,
        voice_speed: float | None = None,
        audio_url: str | None = None,
        audio_file: str | os.PathLike[str] | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
    ) -> Task:
        """See :meth:`KlingClient.create_lip_sync`."""
        op = self._create_lip_sync(
            video_url=video_url,
            video_id=video_id,
            text=text,
            voice_id=voice_id,
            voice_language=voice_language,
            voice_speed=voice_speed,
            audio_url=audio_url,
            audio_file=audio_file,
            callback_url=callback_url,
            external_task_id=external_task_id,
        )
        return await self._run(op)

    async def get_lip_sync(self, task_id: str) -> Task:
        return await self._run(self._core.get(TaskKind.LIP_SYNC, task_id))

    async def list_lip_sync(self, *, page: int = 1, page_size: int = 30) -> list[Task]:
        return await self._run(self._core.list(TaskKind.LIP_SYNC, page, page_size))

    async def iter_lip_sync(self, *, page_size: int = ITER_PAGE_SIZE) -> AsyncIterator[Task]:
        for page in range(1, MAX_PAGE + 1):
            tasks = await self.list_lip_sync(page=page, page_size=page_size)
            for task in tasks:
                yield task
            if len(tasks) < page_size:
                return

    async def create_image2video(
        self,
        *,
        image_url: str | None = None,
        image_file: str | os.PathLike[str] | None = None,
        model_name: str | None = None,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        mode: str | None = None,
        duration: str | int | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        **extra: Any,
    ) -> Task:
        op = self._create_image2video(
            image_url=image_url,
            image_file=image_file,
            model_name=model_name,
            prompt=prompt,
            negative_prompt=negative_prompt,
            mode=mode,
            duration=duration,
            callback_url=callback_url,
            external_task_id=external_task_id,
            extra=extra,
        )
        return await self._run(op)

    async def get_image2video(
        self, task_id: str | None = None, *, external_task_id: str | None = None
    ) -> Task:
        return await self._run(self._get_image2video(task_id, external_task_id))

    async def identify_face(
        self, *, video_url: str | None = None, video_id: str | None = None
    ) -> FaceSession:
        return await self._run(self._identify_face(video_url, video_id))

    async def create_advanced_lip_sync(
        self,
        *,
        session_id: str,
        face_id: str,
        sound_end_time: int,
        audio_url: str | None = None,
        audio_file: str | os.PathLike[str] | None = None,
        audio_id: str | None = None,
        sound_start_time: int = 0,
        sound_insert_time: int = 0,
        sound_volume: float = 1.0,
        original_audio_volume: float = 1.0,
        callback_url: str | None = None,
        external_task_id: str | None = None,
    ) -> Task:
        op = self._create_advanced_lip_sync(
            session_id=session_id,
            face_id=face_id,
            audio_url=audio_url,
            audio_file=audio_file,
            audio_id=audio_id,
            sound_start_time=sound_start_time,
            sound_end_time=sound_end_time,
            sound_insert_time=sound_insert_time,
            sound_volume=sound_volume,
            original_audio_volume=original_audio_volume,
            callback_url=callback_url,
            external_task_id=external_task_id,
        )
        return await self._run(op)

    async def get_advanced_lip_sync(self, task_id: str) -> Task:
        return await self._run(self._core.get(TaskKind.ADVANCED_LIP_SYNC, task_id))

    async def get_task(self, kind: TaskKind | str, task_id: str) -> Task:
        return await self._run(self._core.get(TaskKind(kind), task_id))

    async def list_tasks(
        self, kind: TaskKind | str, *, page: int = 1, page_size: int = 30
    ) -> list[Task]:
        return await self._run(self._core.list(TaskKind(kind), page, page_size))
