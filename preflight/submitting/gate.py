"""Bounded, adaptive concurrency for creates: the provider's slots, as seen from this process.

A Kling task holds one of the account's slots from ``submitted`` until it ends, and a create past
the limit answers 1303. `SlotGate` lets at most ``limit`` tasks be open at once; when the provider
answers 1303 anyway (other processes share the account), it shrinks to what is open now and the
refused job backs off (exponential from 1 s, jittered, capped) before trying again; every created
task lets it grow back by one, up to the limit.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

__all__ = ["SlotGate"]

BACKOFF_START = 1.0  # Kling's documented advice: back off from 1 s or more
BACKOFF_CAP = 30.0
MAX_CREATE_ATTEMPTS = 12


class SlotGate:
    """At most ``limit`` (None: no limit) slots held at once, shrinking on 1303."""

    def __init__(
        self,
        limit: int | None = None,
        *,
        backoff_start: float = BACKOFF_START,
        backoff_cap: float = BACKOFF_CAP,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit is not None and limit < 1:
            raise ValueError("the concurrency limit must be at least 1")
        self.limit = limit
        self.capacity = limit
        self.in_use = 0
        self.backoff_start = backoff_start
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._cond = threading.Condition()
        self.refusals = 0

    def acquire(self) -> None:
        with self._cond:
            while self.capacity is not None and self.in_use >= self.capacity:
                self._cond.wait()
            self.in_use += 1

    def release(self) -> None:
        with self._cond:
            self.in_use -= 1
            self._cond.notify_all()

    def refused(self) -> None:
        """The provider answered 1303: this many open tasks is too many right now."""
        with self._cond:
            self.refusals += 1
            if self.limit is not None:
                self.capacity = max(1, self.in_use - 1)

    def created(self) -> None:
        """A create went through: let the gate grow back by one."""
        with self._cond:
            if self.limit is not None and self.capacity is not None and self.capacity < self.limit:
                self.capacity += 1
                self._cond.notify_all()

    def backoff(self, attempt: int) -> None:
        """Sleep before create attempt ``attempt + 1`` (full jitter on an exponential curve)."""
        ceiling = min(self.backoff_cap, self.backoff_start * (2**attempt))
        self._sleep(random.uniform(self.backoff_start / 2, ceiling))  # noqa: S311 - jitter, not crypto
