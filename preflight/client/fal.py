"""fal: Kling lip-sync through fal's queue (submit, status, result, cancel) and its CDN upload.

Configuration comes from arguments, else the environment:

- ``FAL_KEY``: the API key (sent as ``Authorization: Key ...``);
- ``FAL_BASE_URL``: one origin for everything (a proxy, or ``preflight sandbox``); without it the
  queue is ``https://$FAL_QUEUE_RUN_HOST`` (the host the official fal-client reads; default
  ``queue.fal.run``), the REST API ``https://rest.fal.ai`` and the CDN ``https://v3.fal.media``;
  ``FAL_REST_URL`` and ``FAL_CDN_URL`` override those two.

A submit is never sent twice (see :mod:`preflight.client._fal`); status, result, cancel and
uploads are retried by the policy.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx

from preflight.client._core import Call, Op, first_call
from preflight.client._fal import (
    AUDIO_TO_VIDEO_MODEL,
    DEFAULT_FAL_CDN_URL,
    DEFAULT_FAL_QUEUE_URL,
    DEFAULT_FAL_REST_URL,
    TEXT_TO_VIDEO_MODEL,
    FalCore,
)
from preflight.client._policy import RetryPolicy
from preflight.client._transport import AsyncTransport, SyncTransport
from preflight.client.models import Task, TaskKind, TaskStatus
from preflight.model.errors import MissingKeyError

__all__ = [
    "FAL_AUDIO_TO_VIDEO_MODEL",
    "FAL_TEXT_TO_VIDEO_MODEL",
    "AsyncFalClient",
    "FalClient",
]

FAL_AUDIO_TO_VIDEO_MODEL = AUDIO_TO_VIDEO_MODEL
FAL_TEXT_TO_VIDEO_MODEL = TEXT_TO_VIDEO_MODEL


def _queue_url(base_url: str | None) -> str:
    if base_url:
        return base_url
    if os.environ.get("FAL_BASE_URL"):
        return os.environ["FAL_BASE_URL"]
    host = os.environ.get("FAL_QUEUE_RUN_HOST")
    return f"https://{host}" if host else DEFAULT_FAL_QUEUE_URL


class _FalBase:
    _core: FalCore

    def _configure(
        self,
        key: str | None,
        base_url: str | None,
        rest_url: str | None,
        cdn_url: str | None,
        retry: RetryPolicy | None,
        clock: Callable[[], float],
    ) -> None:
        key = key or os.environ.get("FAL_KEY")
        if not key:
            raise MissingKeyError(
                "fal needs an API key: pass key= or set FAL_KEY", provider="fal", env=("FAL_KEY",)
            )
        one = base_url or os.environ.get("FAL_BASE_URL")  # one origin serves all three
        self._core = FalCore(
            key,
            _queue_url(base_url),
            rest_url=rest_url or os.environ.get("FAL_REST_URL") or one or DEFAULT_FAL_REST_URL,
            cdn_url=cdn_url or os.environ.get("FAL_CDN_URL") or one or DEFAULT_FAL_CDN_URL,
            policy=retry or RetryPolicy(),
            clock=clock,
        )

    @property
    def base_url(self) -> str:
        return self._core.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def describe_submit(self, model: str, *, webhook: str | None = None, **fields: Any) -> Call:
        """The request `submit` would send (the same code builds it), sent nowhere. Redact its
        headers before showing them."""
        return first_call(self._core.submit(model, fields, webhook))

    def _wait(
        self, task: Task | str, timeout: float | None, on_update: Callable[[Task], object] | None
    ) -> Op[Task]:
        start = task if isinstance(task, Task) else _stub(task)
        return self._core.wait(start, self._core.refresh, timeout=timeout, on_update=on_update)


def _stub(request_id: str) -> Task:
    return Task(id=request_id, status=TaskStatus.UNKNOWN, provider="fal", kind=TaskKind.FAL)


class FalClient(_FalBase, SyncTransport[FalCore]):
    """A blocking fal client; ``http_client`` may be your own ``httpx.Client``.

    ``model`` arguments default to the audio-to-video model: both lip-sync models live in one
    fal app (``fal-ai/kling-video``), where their requests are looked up.
    """

    def __init__(
        self,
        key: str | None = None,
        *,
        base_url: str | None = None,
        rest_url: str | None = None,
        cdn_url: str | None = None,
        http_client: httpx.Client | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._configure(key, base_url, rest_url, cdn_url, retry, clock)
        self._open(http_client, timeout, sleep)

    def submit(self, model: str, *, webhook: str | None = None, **fields: Any) -> Task:
        """Queue a request: ``model`` like :data:`FAL_TEXT_TO_VIDEO_MODEL`, fields as documented
        (``video_url``, ``audio_url`` or ``text``/``voice_id``/...). Sent once."""
        return self._run(self._core.submit(model, fields, webhook))

    def status(self, request_id: str, *, model: str | None = None) -> Task:
        """The request now, with its result video once it completed (``model``: any model of
        its app; the lip-sync models share one, so None will do)."""
        return self._run(self._core.fetch(model, request_id))

    def result(self, request_id: str, *, model: str = AUDIO_TO_VIDEO_MODEL) -> dict[str, Any]:
        """The model's raw output of a completed request (``{"video": {"url", ...}}``)."""
        return self._run(self._core.result(model, request_id))

    def cancel(self, request_id: str, *, model: str = AUDIO_TO_VIDEO_MODEL) -> str:
        """``CANCELLATION_REQUESTED`` (queued requests are dropped; running ones are signalled)
        or ``ALREADY_COMPLETED``."""
        return self._run(self._core.cancel(model, request_id))

    def upload(self, path: str | os.PathLike[str]) -> str:
        """Upload a local file to fal's CDN; the URL to pass as ``video_url``/``audio_url``."""
        return self._run(self._core.upload(path))


class AsyncFalClient(_FalBase, AsyncTransport[FalCore]):
    """The async twin of :class:`FalClient`."""

    def __init__(
        self,
        key: str | None = None,
        *,
        base_url: str | None = None,
        rest_url: str | None = None,
        cdn_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = anyio.sleep,
    ) -> None:
        self._configure(key, base_url, rest_url, cdn_url, retry, clock)
        self._open(http_client, timeout, sleep)

    async def submit(self, model: str, *, webhook: str | None = None, **fields: Any) -> Task:
        return await self._run(self._core.submit(model, fields, webhook))

    async def status(self, request_id: str, *, model: str | None = None) -> Task:
        return await self._run(self._core.fetch(model, request_id))

    async def result(self, request_id: str, *, model: str = AUDIO_TO_VIDEO_MODEL) -> dict[str, Any]:
        return await self._run(self._core.result(model, request_id))

    async def cancel(self, request_id: str, *, model: str = AUDIO_TO_VIDEO_MODEL) -> str:
        return await self._run(self._core.cancel(model, request_id))

    async def upload(self, path: str | os.PathLike[str]) -> str:
        return await self._run(self._core.upload(path))
