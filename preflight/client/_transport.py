"""The HTTP lifecycle every client shares: own an httpx client unless given one, close it, run ops.

The operations themselves are sans-I/O generators (`_core`); these mixins are the only place a
client touches its transport, so the Kling and WaveSpeed clients differ only in what they send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from preflight.client._core import Op, run_async, run_sync

__all__ = ["DEFAULT_TIMEOUT", "AsyncTransport", "SyncTransport"]

T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class SyncTransport:
    """``with``-able; closes the httpx.Client only if it made it."""

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


class AsyncTransport:
    """``async with``-able; closes the httpx.AsyncClient only if it made it."""

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
