"""The sandbox's clock: real time scaled, plus whatever a test adds by hand."""

from __future__ import annotations

import threading
import time

__all__ = ["Clock"]


class Clock:
    """Seconds since the epoch as the sandbox sees them.

    ``now() = start + elapsed_real * scale + advanced``. With ``scale=0`` the clock stands still
    until ``advance()`` moves it, so a test decides exactly when tasks change status.
    """

    def __init__(self, scale: float = 1.0, *, start: float | None = None) -> None:
        if scale < 0:
            raise ValueError("clock scale must be >= 0")
        self._scale = scale
        self._start = time.time() if start is None else start
        self._t0 = time.monotonic()
        self._advanced = 0.0
        self._lock = threading.Lock()

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def manual(self) -> bool:
        """True when only ``advance()`` moves the clock."""
        return self._scale == 0

    def now(self) -> float:
        with self._lock:
            return self._start + (time.monotonic() - self._t0) * self._scale + self._advanced

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._advanced += seconds

    def real_seconds_until(self, when: float) -> float | None:
        """Real seconds until the clock reads ``when``; None when only ``advance()`` gets there."""
        remaining = when - self.now()
        if remaining <= 0:
            return 0.0
        return None if self._scale == 0 else remaining / self._scale
