"""A batch progress line on a terminal: done/total, rate and ETA, on stderr; nothing on a pipe.

::

    with Progress(total=len(items), label="check", enabled=True) as bar:
        for _ in results:
            bar.advance()
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

__all__ = ["Progress"]

_MIN_REDRAW_S = 0.1  # a line per item would cost more than the items on a fast batch


class Progress:
    """A one-line counter redrawn in place. ``enabled`` and a TTY stderr are both needed to draw."""

    def __init__(
        self, total: int, label: str, enabled: bool = True, stream: TextIO | None = None
    ) -> None:
        self.total = max(0, total)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = enabled and bool(isatty and isatty())
        self.done = 0
        self._started = time.monotonic()
        self._drawn = 0.0

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.enabled and self._drawn:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items done; redraw at most every 0.1 s (and at the end)."""
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._drawn >= _MIN_REDRAW_S or self.done >= self.total):
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        """The text drawn: ``check 120/2000  85.3/s  ETA 22s``."""
        elapsed = max(1e-9, (now if now is not None else time.monotonic()) - self._started)
        rate = self.done / elapsed
        left = self.total - self.done
        eta = f"ETA {left / rate:.0f}s" if rate > 0 and left > 0 else ""
        return f"{self.label} {self.done}/{self.total}  {rate:.1f}/s  {eta}".rstrip()

    def _draw(self, now: float | None = None) -> None:
        self._drawn = now if now is not None else time.monotonic()
        self.stream.write(f"\r\x1b[K{self.line(now)}")
        self.stream.flush()
