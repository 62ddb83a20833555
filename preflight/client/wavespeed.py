"""WaveSpeedAI: submit any model (Kling lip-sync among them), poll, download, upload.

Configuration comes from arguments, else ``WAVESPEED_API_KEY`` and ``WAVESPEED_BASE_URL``
(default ``https://api.wavespeed.ai``). A submit is never sent twice (see
:mod:`preflight.client._wavespeed`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import httpx

from preflight.client._core import Call, Op, first_call
from preflight.client._policy import RetryPolicy
from preflight.client._transport import AsyncTransport, SyncTransport
from preflight.client._wavespeed import (
    AUDIO_TO_VIDEO_MODEL,
    DEFAULT_WAVESPEED_BASE_URL,
    TEXT_TO_VIDEO_MODEL,
    WaveSpeedCore,
)
from preflight.client.callbacks import verify_webhook
from preflight.client.models import Task, TaskKind, TaskStatus
from preflight.model.errors import MissingKeyError

__all__ = [
    "AUDIO_TO_VIDEO_MODEL",
    "TEXT_TO_VIDEO_MODEL",
    "AsyncWaveSpeedClient",
    "WaveSpeedClient",
]

T = TypeVar("T")


class _WaveSpeedBase:
    _core: WaveSpeedCore

    verify_webhook = staticmethod(verify_webhook)

    def _configure(
        self,
        api_key: str | None,
        base_url: str | None,
        retry: RetryPolicy | None,
        clock: Callable[[], float],
    ) -> None:
        api_key = api_key or os.environ.get("WAVESPEED_API_KEY")
        if not api_key:
            raise MissingKeyError(
                "WaveSpeed needs an API key: pass api_key= or set WAVESPEED_API_KEY",
                provider="wavespeed",
                env=("WAVESPEED_API_KEY",),
            )
        base_url = base_url or os.environ.get("WAVESPEED_BASE_URL") or DEFAULT_WAVESPEED_BASE_URL
        self._core = WaveSpeedCore(api_key, base_url, policy=retry or RetryPolicy(), clock=clock)

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


def _stub(prediction_id: str) -> Task:
    return Task(
        id=prediction_id, status=TaskStatus.UNKNOWN, provider="wavespeed", kind=TaskKind.WAVESPEED
    )


class WaveSpeedClient(_WaveSpeedBase, SyncTransport[WaveSpeedCore]):
    """A blocking WaveSpeedAI client; ``http_client`` may be your own ``httpx.Client``."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        http_client: httpx.Client | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._configure(api_key, base_url, retry, clock)
        self._open(http_client, timeout, sleep)

    def submit(self, model: str, *, webhook: str | None = None, **fields: Any) -> Task:
        """Submit a prediction: ``model`` like :data:`TEXT_TO_VIDEO_MODEL`, fields as documented.

        Sent once: after an ambiguous failure the error says the prediction may exist.
        """
        return self._run(self._core.submit(model, fields, webhook))

    def result(self, prediction_id: str) -> Task:
        return self._run(self._core.result(prediction_id))

    def upload(self, path: str | os.PathLike[str]) -> str:
        """Upload a local file; returns the URL to pass as ``video`` or ``audio``."""
        return self._run(self._core.upload(path))


class AsyncWaveSpeedClient(_WaveSpeedBase, AsyncTransport[WaveSpeedCore]):
    """The async twin of :class:`WaveSpeedClient`."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = anyio.sleep,
    ) -> None:
        self._configure(api_key, base_url, retry, clock)
        self._open(http_client, timeout, sleep)

    async def submit(self, model: str, *, webhook: str | None = None, **fields: Any) -> Task:
        return await self._run(self._core.submit(model, fields, webhook))

    async def result(self, prediction_id: str) -> Task:
        return await self._run(self._core.result(prediction_id))

    async def upload(self, path: str | os.PathLike[str]) -> str:
        return await self._run(self._core.upload(path))
