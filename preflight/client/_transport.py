"""The HTTP lifecycle every client shares: own an httpx client unless given one, close it, run ops.

The operations themselves are sans-I/O generators (`_core`); these mixins are the only place a
client touches its transport, so the Kling and WaveSpeed clients differ only in what they send.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import httpx

from preflight.client._core import DEFAULT_WAIT_TIMEOUT, Core, Op, run_async, run_sync
from preflight.client._files import download_async, download_sync, result_url
from preflight.client.models import Task

WaitOp = Callable[[Task | str, float | None, Callable[[Task], object] | None], Op[Task]]

__all__ = ["DEFAULT_TIMEOUT", "AsyncTransport", "SyncTransport"]

T = TypeVar("T")
CoreT = TypeVar("CoreT", bound=Core)

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class SyncTransport(Generic[CoreT]):
    """``with``-able; closes the httpx.Client only if it made it. Waits for and downloads tasks."""

    _core: CoreT
    _wait: WaitOp  # the provider's polling operation (each client builds its own)
    _http: httpx.Client
    _owns_http: bool
    _sleep: Callable[[float], None]

    def _open(
        self,
        http_client: httpx.Client | None,
        timeout: httpx.Timeout | float | None,
        sleep: Callable[[float], None],
    ) -> None:
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout or DEFAULT_TIMEOUT)
        self._sleep = sleep

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _run(self, op: Op[T]) -> T:
        return run_sync(op, self._http, self._sleep)

    def wait(
        self,
        task: Task | str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_update: Callable[[Task], object] | None = None,
    ) -> Task:
        """Poll until the task ends; return it when it succeeded.

        Raises :class:`~preflight.model.errors.TaskFailedError` (with the provider's reason) when it
        failed, and :class:`~preflight.model.errors.APITimeoutError` after ``timeout`` seconds.
        ``on_update`` is called with the task whenever its status or message changes.
        """
        return self._run(self._wait(task, timeout, on_update))

    def download(self, task: Task | str, path: str | os.PathLike[str], *, index: int = 0) -> Path:
        """Save a result video at ``path``: streamed to a temp file beside it, then moved."""
        return download_sync(
            self._http,
            result_url(task, index),
            path,
            policy=self._core.policy,
            sleep=self._sleep,
            name=self._core.name,
        )


class AsyncTransport(Generic[CoreT]):
    """``async with``-able; closes the httpx.AsyncClient only if it made it. Waits, downloads."""

    _core: CoreT
    _wait: WaitOp
    _http: httpx.AsyncClient
    _owns_http: bool
    _sleep: Callable[[float], Awaitable[Any]]

    def _open(
        self,
        http_client: httpx.AsyncClient | None,
        timeout: httpx.Timeout | float | None,
        sleep: Callable[[float], Awaitable[Any]],
    ) -> None:
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout or DEFAULT_TIMEOUT)
        self._sleep = sleep

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _run(self, op: Op[T]) -> T:
        return await run_async(op, self._http, self._sleep)

    async def wait(
        self,
        task: Task | str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_update: Callable[[Task], object] | None = None,
    ) -> Task:
        """See :meth:`SyncTransport.wait` (``on_update`` is a plain function here too)."""
        return await self._run(self._wait(task, timeout, on_update))

    async def download(
        self, task: Task | str, path: str | os.PathLike[str], *, index: int = 0
    ) -> Path:
        """Save a result video at ``path``: streamed to a temp file beside it, then moved."""
        return await download_async(
            self._http,
            result_url(task, index),
            path,
            policy=self._core.policy,
            sleep=self._sleep,
            name=self._core.name,
        )
