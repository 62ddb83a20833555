"""Files over HTTP: a result downloaded into a temp file beside the target, then moved into
place; a local file streamed as a request body in chunks (an upload never holds it whole)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import httpx

from preflight.client._errors import error_from_envelope
from preflight.client._policy import Failure, RetryPolicy
from preflight.client.models import Task
from preflight.model.atomic import atomic_open
from preflight.model.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    InvalidRequestError,
)

__all__ = [
    "FileBody",
    "atomic_target",
    "download_async",
    "download_sync",
    "file_chunks",
    "file_chunks_async",
    "result_url",
]

CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class FileBody:
    """A request body read from ``path`` as it is sent: exactly ``size`` bytes (the size the
    provider was told, sent as Content-Length)."""

    path: Path
    size: int


def file_chunks(body: FileBody) -> Iterator[bytes]:
    """The file's bytes in chunks; InvalidRequestError if it is not ``size`` long any more."""
    left = body.size
    try:
        with body.path.open("rb") as fh:
            while left > 0:
                chunk = fh.read(min(CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk
    except OSError as exc:
        raise InvalidRequestError(
            f"cannot read {body.path.name!r} while uploading it: {exc.strerror or exc}"
        ) from exc
    if left:
        raise InvalidRequestError(f"{body.path.name!r} changed size while it was being uploaded")


async def file_chunks_async(body: FileBody) -> AsyncIterator[bytes]:
    """:func:`file_chunks` for an async client (reads are small and stay blocking)."""
    for chunk in file_chunks(body):
        yield chunk


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
    with atomic_open(path, "wb") as fh:
        yield cast(BinaryIO, fh)


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
