"""The sans-I/O core both the sync and the async clients run.

An operation is a generator that *describes* I/O instead of doing it: it yields :class:`Call`
(send this HTTP request) or :class:`Pause` (wait this long) and is sent back the
``httpx.Response`` or the ``httpx.TransportError`` the call produced. :func:`run_sync` and
:func:`run_async` are the only places that touch the network or sleep, so request building,
envelope decoding, the retry policy, token renewal, create recovery and polling are written once.
"""

from __future__ import annotations

import abc
import logging
import re
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeVar

import httpx

from preflight.client._errors import error_from_envelope
from preflight.client._files import FileBody, file_chunks, file_chunks_async
from preflight.client._policy import Failure, RetryPolicy, is_ambiguous
from preflight.client.models import Task, TaskStatus
from preflight.client.url_logs import hide_url_secrets
from preflight.model.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    RateLimitError,
    ServerError,
    TaskFailedError,
)

__all__ = [
    "AmbiguousCreateError",
    "Call",
    "Core",
    "Op",
    "Pause",
    "first_call",
    "run_async",
    "run_sync",
]

log = logging.getLogger("preflight.client")
hide_url_secrets()  # httpx logs each request's URL: signed links keep their signatures out

T = TypeVar("T")

POLL_INITIAL = 1.0  # seconds between the first polls of `wait`
POLL_GROWTH = 1.5
POLL_MAX = 15.0
DEFAULT_WAIT_TIMEOUT = 1800.0


@dataclass(frozen=True, slots=True)
class Call:
    """Send one HTTP request (``url`` is absolute)."""

    method: str
    url: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    files: Mapping[str, tuple[str, bytes | BinaryIO, str]] | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    content: FileBody | None = None  # a file streamed as the body, with its Content-Length


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait ``seconds`` before going on."""

    seconds: float


Reply = httpx.Response | httpx.TransportError | None
Op = Generator[Call | Pause, Reply, T]


class AmbiguousCreateError(Exception):
    """Internal: a create failed in a way that may have started a task (look for it first)."""

    def __init__(self, error: APIError, failure: Failure) -> None:
        super().__init__(str(error))
        self.error = error
        self.failure = failure


def run_sync(op: Op[T], http: httpx.Client, sleep: Callable[[float], None]) -> T:
    """Drive ``op`` with a blocking ``httpx.Client``."""
    reply: Reply = None
    while True:
        try:
            effect = op.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(effect, Pause):
            sleep(effect.seconds)
            reply = None
            continue
        body = None if effect.content is None else file_chunks(effect.content)
        request = _build(http, effect, body)
        try:
            reply = http.send(request)
        except httpx.TransportError as exc:
            reply = exc


async def run_async(op: Op[T], http: httpx.AsyncClient, sleep: Callable[[float], Any]) -> T:
    """Drive ``op`` with an ``httpx.AsyncClient``; ``sleep`` returns an awaitable."""
    reply: Reply = None
    while True:
        try:
            effect = op.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(effect, Pause):
            await sleep(effect.seconds)
            reply = None
            continue
        abody = None if effect.content is None else file_chunks_async(effect.content)
        request = _build(http, effect, abody)
        try:
            reply = await http.send(request)
        except httpx.TransportError as exc:
            reply = exc


def _build(
    http: httpx.Client | httpx.AsyncClient,
    call: Call,
    body: Iterator[bytes] | AsyncIterator[bytes] | None,
) -> httpx.Request:
    headers = httpx.Headers(dict(call.headers))
    if call.content is not None:  # a streamed file: a known length, never chunked encoding
        headers["Content-Length"] = str(call.content.size)
    return http.build_request(
        call.method,
        call.url,
        params=call.params,
        json=call.json,
        files=call.files,
        headers=headers,
        content=body,
    )


def first_call(op: Op[Any]) -> Call:
    """The first request ``op`` would send, built by the operation itself, sent nowhere.

    A dry run (`preflight submit --dry-run`) shows exactly what the real run sends because the
    request comes out of the same generator `run_sync` drives; the operation is then closed, so
    nothing after the first request (a retry, a recovery lookup) is ever described or done."""
    try:
        effect = op.send(None)
        while isinstance(effect, Pause):
            effect = op.send(None)
    except StopIteration:
        raise APIError("the operation sends no request") from None
    finally:
        op.close()
    return effect


class Core(abc.ABC):
    """What both providers share: envelopes, errors, the retry loop and polling.

    Subclasses set ``provider``/``name``/``success_code`` and implement :meth:`_auth_headers`.
    """

    provider = ""
    name = ""
    success_code = 0

    def __init__(self, base_url: str, *, policy: RetryPolicy, clock: Callable[[], float]) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.clock = clock

    # --- hooks ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def _auth_headers(self) -> dict[str, str]:
        """The headers that authenticate one request."""

    def _renew_auth(self, failure: Failure) -> bool:
        """Renew credentials after this failure and try once more? (Kling: code 1004.)"""
        return False

    # --- one request ---------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Mapping[str, tuple[str, bytes | BinaryIO, str]] | None = None,
        create: bool = False,
        content: FileBody | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Op[Any]:
        """Send a request with the retry policy; return the envelope's ``data``.

        With ``create=True`` a failure that may have started a task raises
        :class:`AmbiguousCreateError` instead of retrying. ``headers`` are added to (and may
        replace) the authentication headers; ``content`` is a file streamed as the raw body.
        """
        attempt = 0
        renewed = False
        while True:
            sent = {**self._auth_headers(), **(headers or {})}
            reply = yield Call(method, self.url(path), params, json, files, sent, content)
            assert reply is not None
            outcome = self._interpret(reply, method, path)
            if not isinstance(outcome, tuple):
                return outcome
            failure, error = outcome
            if not renewed and self._renew_auth(failure):
                renewed = True
                log.info("%s %s: token expired (1004), renewing once", method, path)
                continue
            if self.policy._should_retry(failure, attempt, create=create):
                delay = self.policy._retry_delay(failure, attempt)
                log.info(
                    "%s %s failed (%s); retry %d in %.2fs",
                    method,
                    path,
                    _describe(failure),
                    attempt + 1,
                    delay,
                )
                yield Pause(delay)
                attempt += 1
                continue
            if create and is_ambiguous(failure):
                raise AmbiguousCreateError(error, failure)
            raise error

    def _interpret(
        self, reply: httpx.Response | httpx.TransportError, method: str, path: str
    ) -> Any | tuple[Failure, APIError]:
        """The envelope's data on success, else the failure (for the policy) and its error."""
        if isinstance(reply, httpx.TransportError):
            log.debug("%s %s: %s", method, path, type(reply).__name__)
            return Failure(transport_error=reply), self._transport_error(reply)
        envelope = _json_or_none(reply)
        log.debug(
            "%s %s -> %d %s",
            method,
            path,
            reply.status_code,
            (envelope or {}).get("request_id", ""),
        )
        code = envelope.get("code") if envelope is not None else None
        if reply.is_success and envelope is not None and _same_code(code, self.success_code):
            return envelope.get("data")
        error = error_from_envelope(
            self.provider,
            reply.status_code,
            envelope,
            fallback=reply.reason_phrase or f"HTTP {reply.status_code}",
        )
        if reply.is_success and envelope is None:
            error = APIError(f"{self.name}: the answer was not JSON", http_status=reply.status_code)
        failure = Failure(http_status=reply.status_code, code=error.code, headers=reply.headers)
        return failure, error

    # --- a file to a URL outside the API ------------------------------------------------------
    def transfer(
        self, method: str, url: str, body: FileBody, headers: Mapping[str, str]
    ) -> Op[None]:
        """Send a file to a URL the provider handed out (a presigned upload URL).

        Only ``headers`` go with it, never the provider's key (the URL is someone else's and
        signs itself); any 2xx is success. The same bytes sent again do no harm, so it is retried
        like a query. Logs and errors name the URL's host only: its query is a credential.
        """
        host = httpx.URL(url).host
        attempt = 0
        while True:
            reply = yield Call(method, url, headers=headers, content=body)
            assert reply is not None
            if isinstance(reply, httpx.Response) and reply.is_success:
                log.debug("upload %s to %s -> %d", method, host, reply.status_code)
                return
            failure, error = self._transfer_failure(reply, method, host)
            if not self.policy._should_retry(failure, attempt):
                raise error
            delay = self.policy._retry_delay(failure, attempt)
            log.info(
                "upload %s to %s failed (%s); retry %d in %.2fs",
                method,
                host,
                _describe(failure),
                attempt + 1,
                delay,
            )
            yield Pause(delay)
            attempt += 1

    def _transfer_failure(
        self, reply: httpx.Response | httpx.TransportError, method: str, host: str
    ) -> tuple[Failure, APIError]:
        what = f"{self.name}: the upload {method} to {host}"
        if isinstance(reply, httpx.TransportError):
            timeout = isinstance(reply, httpx.TimeoutException)
            cls = APITimeoutError if timeout else APIConnectionError
            return Failure(transport_error=reply), cls(f"{what} broke off ({type(reply).__name__})")
        status = reply.status_code
        kind: type[APIError] = APIError
        if status >= 500:
            kind = ServerError
        elif status == 429:
            kind = RateLimitError
        error = kind(f"{what} answered HTTP {status}{_storage_detail(reply)}", http_status=status)
        return Failure(http_status=status, headers=reply.headers), error

    def _transport_error(self, exc: httpx.TransportError) -> APIConnectionError:
        detail = type(exc).__name__
        cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        return cls(f"{self.name}: no usable answer from {httpx.URL(self.base_url).host} ({detail})")

    # --- waiting -------------------------------------------------------------------------------
    def wait(
        self,
        task: Task,
        fetch: Callable[[Task], Op[Task]],
        *,
        timeout: float | None,
        on_update: Callable[[Task], object] | None,
    ) -> Op[Task]:
        """Poll with growing intervals until the task ends; raise TaskFailedError on `failed`."""
        deadline = None if timeout is None else self.clock() + timeout
        interval = POLL_INITIAL
        last: tuple[TaskStatus, str | None] | None = None
        current = task
        while True:
            current = yield from fetch(current)
            state = (current.status, current.status_message)
            if state != last and on_update is not None:
                on_update(current)
            last = state
            if current.is_terminal:
                break
            if deadline is not None and self.clock() + interval > deadline:
                raise APITimeoutError(
                    f"{self.name}: task {current.id} still {current.status.value} "
                    f"after {timeout:g}s of waiting"
                )
            yield Pause(interval)
            interval = min(interval * POLL_GROWTH, POLL_MAX)
        if current.status is TaskStatus.FAILED:
            raise TaskFailedError(
                f"{self.name}: task {current.id} failed: "
                f"{current.status_message or 'no reason given'}",
                task_id=current.id,
            )
        return current


_XML_FIELD = re.compile(r"<(Code|Message)>([^<]{1,200})</\1>")


def _storage_detail(response: httpx.Response) -> str:
    """`` (Code: Message)`` from an object store's XML error, when it has one."""
    found = dict(_XML_FIELD.findall(response.text[:4000]))
    parts = [found[k].strip() for k in ("Code", "Message") if k in found]
    return f" ({': '.join(parts)})" if parts else ""


def _json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _same_code(code: Any, expected: int) -> bool:
    try:
        return int(code) == expected
    except (TypeError, ValueError):
        return False


def _describe(failure: Failure) -> str:
    if failure.transport_error is not None:
        return type(failure.transport_error).__name__
    return f"HTTP {failure.http_status}, code {failure.code}"
