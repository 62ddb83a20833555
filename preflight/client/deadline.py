"""An overall deadline for one fetch, and the redirect policy every fetch of an input follows.

httpx's timeouts bound each read, not the whole exchange: a server that sends one byte (or one
header line) every few seconds never trips a 30 s read timeout and keeps a fetch alive for ever.
:class:`Deadline` fixes the end time once; :func:`deadline_client` gives an ``httpx.Client`` whose
every connect, read and write is bounded by the time left (through an httpcore network backend),
so even a drip of response headers, which no loop of ours sees, ends at the deadline. Callers also
call :meth:`Deadline.check` between chunks, which covers transports the backend does not see (an
environment proxy).

Redirects are followed by httpx, which accepts only ``http``/``https`` for each hop (a redirect to
``file:`` or ``ftp:`` raises ``UnsupportedProtocol``) and stops after ``MAX_REDIRECTS`` hops
(``TooManyRedirects``); the same client, so the same deadline and the caller's size caps, serves
every hop. :func:`fetch_problem` turns those errors into one sentence a user can act on.
"""

from __future__ import annotations

import math
import time
import typing
from typing import TYPE_CHECKING

import httpcore
import httpx

from preflight.client.url_logs import hide_url_secrets

if TYPE_CHECKING:
    import ssl

__all__ = [
    "DEFAULT_URL_TIMEOUT_S",
    "MAX_REDIRECTS",
    "Deadline",
    "DeadlineExceeded",
    "deadline_client",
    "fetch_problem",
    "timeout_from_env",
]

DEFAULT_URL_TIMEOUT_S = 60.0
MAX_REDIRECTS = 5
SCHEMES = ("http", "https")


class DeadlineExceeded(httpx.TimeoutException):
    """The whole fetch took longer than its deadline (an ``httpx.TimeoutException``)."""


class Deadline:
    """The moment a fetch must be over by (monotonic clock)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self._end - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def check(self) -> None:
        """Raise DeadlineExceeded once the time is up (call it between chunks)."""
        if self.expired():
            raise DeadlineExceeded(f"the fetch did not finish within {self.seconds:g} s")

    def bound(self, timeout: float | None) -> float:
        """``timeout`` cut to the time left; raises when none is left."""
        self.check()
        left = max(self.remaining(), 0.001)
        return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._inner.read(max_bytes, self._deadline.bound(timeout))
        except DeadlineExceeded as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._inner.write(buffer, self._deadline.bound(timeout))
        except DeadlineExceeded as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        try:
            bounded = self._deadline.bound(timeout)
            inner = self._inner.start_tls(ssl_context, server_hostname, bounded)
        except DeadlineExceeded as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        return _Stream(inner, self._deadline)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, deadline: Deadline) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            bounded = self._deadline.bound(timeout)
        except DeadlineExceeded as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        stream = self._inner.connect_tcp(host, port, bounded, local_address, socket_options)
        return _Stream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, max(self._deadline.remaining(), 0.0)))


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport (its request/response mapping and error translation) over a pool
    whose sockets honour the deadline. httpx has no public hook for a network backend, so the
    pool it built is replaced by an equal one that has it."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        ssl_context = httpx.create_ssl_context()
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, network_backend=_Backend(deadline)
        )


hide_url_secrets()  # an input URL may carry a token; httpx logs each request's URL


def deadline_client(deadline: Deadline, *, read_timeout: float = 30.0) -> httpx.Client:
    """A client for fetching an input: per-read ``read_timeout``, everything within ``deadline``,
    redirects followed over http(s) only, at most ``MAX_REDIRECTS`` hops."""
    return httpx.Client(
        transport=_DeadlineTransport(deadline),
        timeout=min(read_timeout, max(deadline.seconds, 0.001)),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
    )


def fetch_problem(exc: Exception, deadline: Deadline | None = None) -> str:
    """One sentence for a failed fetch (no URL in it: the caller names the input)."""
    if deadline is not None and (isinstance(exc, DeadlineExceeded) or deadline.expired()):
        return (
            f"the download did not finish within {deadline.seconds:g} s "
            "(the --url-timeout limit; a server sending slowly or never finishing)"
        )
    if isinstance(exc, httpx.TooManyRedirects):
        return f"the server redirected more than {MAX_REDIRECTS} times"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"it redirects to an address that is not http(s) ({exc}): refused"
    if isinstance(exc, httpx.TimeoutException):
        return "the server stopped answering"
    return f"could not fetch it: {exc or type(exc).__name__}"


def timeout_from_env(value: str | None) -> float:
    """``$PREFLIGHT_URL_TIMEOUT`` (seconds) or the default; nonsense falls back to the default."""
    if value:
        try:
            seconds = float(value)
        except ValueError:
            return DEFAULT_URL_TIMEOUT_S
        if seconds > 0 and math.isfinite(seconds):
            return seconds
    return DEFAULT_URL_TIMEOUT_S
