"""A one-line live counter for long batch steps: ``check 120/500 · 38.2/s · ETA 0:10``.

Drawn on stderr, and only when stderr is a terminal: a pipe, a file or CI logs get nothing, so
machine-readable output and logs stay clean. ``--quiet`` passes ``enabled=False``. Safe to
advance from worker threads (fix and submit call back from a pool).

    with Progress(total=len(paths), label="check", enabled=not quiet) as bar:
        for path in paths:
            ...
            bar.advance()
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import IO, ClassVar

__all__ = ["Progress", "Steps", "eta_text"]

_REDRAW_EVERY = 0.1  # seconds: a terminal redrawn faster only flickers


def eta_text(done: int, total: int, elapsed: float, unit: str = "") -> str:
    """``12/40 · 3.1/s · ETA 0:09`` (rate and ETA once something is done); ``unit`` follows
    the count (``12/40 jobs``)."""
    head = f"{done}/{total}{' ' + unit if unit else ''}"
    if done <= 0 or elapsed <= 0:
        return head
    rate = done / elapsed
    shown = f"{rate:.1f}/s" if rate >= 1 else f"{60 * rate:.1f}/min"
    left = max(0, total - done) / rate
    return f"{head} · {shown} · ETA {_clock(left)}"


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _is_tty(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


class Progress:
    """Count ``total`` items under ``label``; draw on stderr when ``enabled`` and a terminal."""

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.total = max(0, total)
        self.label = label
        self.done = 0
        self._stream: IO[str] = sys.stderr
        self._on = enabled and self.total > 0 and _is_tty(self._stream)
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._drawn = 0.0
        self._width = 0

    @property
    def active(self) -> bool:
        """True when this counter draws (enabled, something to count, stderr a terminal)."""
        return self._on

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        self._draw(force=True)
        return self

    def advance(self, n: int = 1) -> None:
        """``n`` more items are done (thread-safe)."""
        with self._lock:
            self.done = min(self.total, self.done + n) if self.total else self.done + n
            self._draw(force=self.done >= self.total)

    def line(self, text: str, *, err: bool = False) -> None:
        """Print ``text`` (stdout, or stderr with ``err``) above the counter, then redraw it."""
        import click

        with self._lock:
            self._erase()
            click.echo(text, err=err)
            self._draw(force=True)

    def _erase(self) -> None:
        if self._on and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self._erase()  # the results printed next start on a clean line
            self._on = False

    def _draw(self, *, force: bool = False) -> None:
        if not self._on:
            return
        now = time.monotonic()
        if not force and now - self._drawn < _REDRAW_EVERY:
            return
        self._drawn = now
        line = f"{self.label} {eta_text(self.done, self.total, now - self._started)}"
        pad = max(0, self._width - len(line))
        self._stream.write("\r" + line + " " * pad)
        self._stream.flush()
        self._width = len(line)


class Steps:
    """A listener for ``on_progress(step, done, total)`` callbacks (`preflight.check`): one
    `Progress` per step, replaced when the step changes. Use as a context manager."""

    LABELS: ClassVar[dict[str, str]] = {"probe": "probing", "faces": "face checks"}

    def __init__(self, enabled: bool = True, prefix: str = "") -> None:
        self.enabled = enabled
        self.prefix = prefix
        self._step: str | None = None
        self._bar: Progress | None = None

    def __call__(self, step: str, done: int, total: int) -> None:
        if step != self._step or self._bar is None:
            self.close()
            self._step = step
            label = self.prefix + self.LABELS.get(step, step)
            self._bar = Progress(total, label, self.enabled).__enter__()
        if done > self._bar.done:
            self._bar.advance(done - self._bar.done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
