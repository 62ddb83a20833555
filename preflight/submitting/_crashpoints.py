"""Crash points for the resume tests: the process kills itself with SIGKILL at a named point.

Set ``PREFLIGHT_CRASH_AT`` to a point's name (``after-create``: the create call has reached the
provider but its task id is not stored yet; ``mid-download``: part of the result is on disk) and,
optionally, ``PREFLIGHT_CRASH_MARK`` to a file that is written just before dying. SIGKILL cannot
be caught, so this is exactly what a power cut or an OOM kill leaves behind. Unset (always, in
normal use) this does nothing.
"""

from __future__ import annotations

import os
import signal

__all__ = ["crash_point"]


def crash_point(name: str) -> None:
    if os.environ.get("PREFLIGHT_CRASH_AT") != name:
        return
    mark = os.environ.get("PREFLIGHT_CRASH_MARK")
    if mark:
        with open(mark, "w", encoding="utf-8") as fh:
            fh.write(name)
    os.kill(os.getpid(), signal.SIGKILL)
