"""When to retry a request, and how long to wait first.

One attempt ends in a :class:`Failure` (an HTTP answer that is an error, or a transport error) and
the policy answers two questions in small methods: :meth:`RetryPolicy._should_retry` and
:meth:`RetryPolicy._retry_delay`. Whether a *create* may be retried at all is decided by
:func:`certainly_not_started`: a create is paid, so it is retried only when the provider surely
started nothing.

The table (Kling codes; WaveSpeed codes in brackets)::

    failure                                query (GET)   create (POST)
    connect error / connect or pool timeout   retry        retry (nothing was sent)
    read/write timeout, dropped connection    retry        ambiguous: look for the task first
    429 with 1302 / 1303                      retry        retry (refused, nothing started)
    429 without a code (WaveSpeed quota)      retry        retry
    5001 / 5002, any other 5xx (5000/3/4)     retry        ambiguous: look for the task first
    1100-1102 billing, 1103, 1304, auth,
    invalid parameter, content policy         never        never

Delays grow exponentially from ``initial_delay`` (``concurrency_initial_delay``, at least 1 s,
for 1303 as Kling advises), are capped, carry jitter, and give way to a ``Retry-After`` header
(seconds or an HTTP date) when the provider sends a sensible one.
"""

from __future__ import annotations

import email.utils
import math
import random as _random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

__all__ = ["Failure", "RetryPolicy", "certainly_not_started", "parse_retry_after"]

DEFAULT_MAX_RETRIES = 4
DEFAULT_CONCURRENCY_RETRIES = 12  # slots free only when tasks end: wait longer, more often
INITIAL_DELAY = 0.5  # seconds
CONCURRENCY_INITIAL_DELAY = 1.0  # Kling: back off from 1 s or more on 1303
MAX_DELAY = 8.0
CONCURRENCY_MAX_DELAY = 30.0
JITTER = 0.25  # a delay is shortened by up to this fraction, never below its floor
MAX_RETRY_AFTER = 60.0  # a longer Retry-After is not waited for: the backoff is used instead

RATE_CODES = frozenset({1302, 1303})
SERVER_RETRY_CODES = frozenset({5001, 5002, 5000, 5003, 5004})
CONCURRENCY_CODE = 1303

# Transport errors raised before any byte of the request reached the provider.
_NOT_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt: either an HTTP answer (status, business code, headers) or an error."""

    http_status: int | None = None
    code: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    transport_error: httpx.TransportError | None = None

    @property
    def is_transport(self) -> bool:
        return self.transport_error is not None


def certainly_not_started(failure: Failure) -> bool:
    """True when the provider surely started no task: safe to send a create again."""
    if failure.transport_error is not None:
        return isinstance(failure.transport_error, _NOT_SENT)
    if failure.code in RATE_CODES:
        return True
    # WaveSpeed's per-minute quota: a bare 429 refuses the request before a task exists
    return failure.http_status == 429 and failure.code is None


def is_ambiguous(failure: Failure) -> bool:
    """True when a create may or may not have started a task (look for it before deciding)."""
    if failure.transport_error is not None:
        return not isinstance(failure.transport_error, _NOT_SENT)
    return failure.http_status is not None and failure.http_status >= 500


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times and how patiently to retry; ``random`` and ``now`` are injectable."""

    max_retries: int = DEFAULT_MAX_RETRIES
    concurrency_retries: int = DEFAULT_CONCURRENCY_RETRIES
    initial_delay: float = INITIAL_DELAY
    concurrency_initial_delay: float = CONCURRENCY_INITIAL_DELAY
    max_delay: float = MAX_DELAY
    concurrency_max_delay: float = CONCURRENCY_MAX_DELAY
    random: Callable[[], float] = field(default=_random.random, repr=False)
    now: Callable[[], float] = field(default=time.time, repr=False)

    def _retryable(self, failure: Failure) -> bool:
        """Whether this failure is worth another attempt for a request that is safe to repeat."""
        if failure.transport_error is not None:
            return not isinstance(failure.transport_error, httpx.UnsupportedProtocol)
        if failure.code is not None:
            return failure.code in RATE_CODES or failure.code in SERVER_RETRY_CODES
        status = failure.http_status or 0
        return status == 429 or status >= 500

    def _should_retry(self, failure: Failure, attempt: int, *, create: bool = False) -> bool:
        """Retry after the ``attempt``-th retry (0 = the first try failed)?

        A create is retried only when :func:`certainly_not_started` holds; everything else a
        create meets is either final or ambiguous (the caller looks for the task).
        """
        if create and not certainly_not_started(failure):
            return False
        if not self._retryable(failure):
            return False
        limit = self.concurrency_retries if failure.code == CONCURRENCY_CODE else self.max_retries
        return attempt < limit

    def _retry_delay(self, failure: Failure, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        concurrency = failure.code == CONCURRENCY_CODE
        floor = self.concurrency_initial_delay if concurrency else 0.0
        after = parse_retry_after(failure.headers, now=self.now)
        if after is not None and 0 <= after <= MAX_RETRY_AFTER:
            return max(after, floor)
        if concurrency:
            start, cap = self.concurrency_initial_delay, self.concurrency_max_delay
        else:
            start, cap = self.initial_delay, self.max_delay
        delay = min(start * 2.0**attempt, cap)
        return max(delay * (1.0 - JITTER * self.random()), floor)


def parse_retry_after(
    headers: Mapping[str, str], *, now: Callable[[], float] = time.time
) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``retry-after-ms``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        return max(0.0, float(email.utils.mktime_tz(parsed)) - now())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
