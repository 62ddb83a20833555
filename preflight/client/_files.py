"""Downloading a result: stream into a temp file beside the target, then move it into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import httpx

from preflight.client._errors import error_from_envelope
from preflight.client._policy import Failure, RetryPolicy
from preflight.client.models import Task
from preflight.model.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    InvalidRequestError,
)

__all__ = ["atomic_target", "download_async", "download_sync", "result_url"]

CHUNK = 1 << 16


def result_url(task: Task | str, index: int = 0) -> str:
    """The URL to fetch: a task's ``index``-th result video, or a URL given as is."""
    if isinstance(task, str):
        return task
    if index >= len(task.videos):
        raise InvalidRequestError(
            f"task {task.id} has no result video to download (status {task.status.value})"
        )
    return task.videos[index].url


@contextlib.contextmanager
def atomic_target(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A file to write that appears at ``path`` only when the block finishes without error."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _failure(name: str, reply: httpx.Response | httpx.TransportError) -> tuple[Failure, APIError]:
    if isinstance(reply, httpx.TransportError):
        cls = APITimeoutError if isinstance(reply, httpx.TimeoutException) else APIConnectionError
        return Failure(transport_error=reply), cls(
            f"{name}: download broke off ({type(reply).__name__})"
        )
    error = error_from_envelope(
        name, reply.status_code, None, fallback=f"download answered HTTP {reply.status_code}"
    )
    return Failure(http_status=reply.status_code, headers=reply.headers), error


def download_sync(
    http: httpx.Client,
    url: str,
    path: str | os.PathLike[str],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    name: str,
) -> Path:
    """GET ``url`` into ``path`` (atomically), retrying broken or 5xx downloads."""
    attempt = 0
    while True:
        try:
            with atomic_target(path) as fh, http.stream("GET", url, follow_redirects=True) as resp:
                if not resp.is_success:
                    resp.read()
                    raise _HTTPFailed(resp)
                for chunk in resp.iter_bytes(CHUNK):
                    fh.write(chunk)
            return Path(path)
        except httpx.TransportError as exc:
            failure, error = _failure(name, exc)
        except _HTTPFailed as failed:
            failure, error = _failure(name, failed.response)
        if not policy._should_retry(failure, attempt):
            raise error
        sleep(policy._retry_delay(failure, attempt))
        attempt += 1


async def download_async(
    http: httpx.AsyncClient,
    url: str,
    path: str | os.PathLike[str],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[object]],
    name: str,
) -> Path:
    """The async twin of :func:`download_sync` (file writes are small and stay blocking)."""
    attempt = 0
    while True:
        try:
            with atomic_target(path) as fh:
                async with http.stream("GET", url, follow_redirects=True) as resp:
                    if not resp.is_success:
                        await resp.aread()
                        raise _HTTPFailed(resp)
                    async for chunk in resp.aiter_bytes(CHUNK):
                        fh.write(chunk)
            return Path(path)
        except httpx.TransportError as exc:
            failure, error = _failure(name, exc)
        except _HTTPFailed as failed:
            failure, error = _failure(name, failed.response)
        if not policy._should_retry(failure, attempt):
            raise error
        await sleep(policy._retry_delay(failure, attempt))
        attempt += 1


class _HTTPFailed(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response
