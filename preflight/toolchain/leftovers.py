"""Temp files that name their owner, so a later run can remove what a killed one left behind.

``kill -9`` (or a CI timeout killing the process group) runs no ``finally``: the temp output beside
a target (``.clip.preflight-tmp-<owner>.mp4``) or a URL download in the temp directory
(``preflight-<owner>-*.download``) stays. Each such name carries :func:`owner_tag`, the pid and
the process start time (clock ticks since boot, from ``/proc``), and :func:`sweep` removes only
files whose owner is gone: a pid that no longer runs, or runs as another process (pids are reused;
the start time tells them apart). A live process's files, another user's, or anything that does
not match the pattern are never touched.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from pathlib import Path

__all__ = ["OWNER_PATTERN", "owner_alive", "owner_tag", "sweep"]

OWNER_PATTERN = r"(?P<owner>\d+x\d+)"  # what owner_tag() looks like, for patterns in callers


def _start_time(pid: int) -> int | None:
    """The start time of ``pid`` (clock ticks since boot), or None where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count from the last ")"
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[19])  # field 22 of the whole line


@functools.cache
def _own_tag(pid: int) -> str:
    return f"{pid}x{_start_time(pid) or 0}"


def owner_tag() -> str:
    """``<pid>x<start time>`` of this process (start time 0 where /proc is not available)."""
    return _own_tag(os.getpid())


def owner_alive(tag: str) -> bool:
    """True when the process named by ``tag`` still runs (or it cannot be told that it does not)."""
    pid_text, _, start_text = tag.partition("x")
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive
    except OverflowError:
        return False
    start = _start_time(pid)
    if start is None or start_text == "0":
        return True  # no /proc: the pid alone decides
    return start == int(start_text)


def sweep(directory: str | os.PathLike[str], pattern: str) -> list[Path]:
    """Remove files in ``directory`` whose name fully matches ``pattern`` and whose owner is gone.

    ``pattern`` is a regular expression with an ``owner`` group (use :data:`OWNER_PATTERN`).
    Returns what was removed. Errors (a racing remover, no permission) are ignored: sweeping is
    housekeeping and never stops the work it precedes.
    """
    compiled = re.compile(pattern)
    removed: list[Path] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        match = compiled.fullmatch(name)
        if match is None or owner_alive(match.group("owner")):
            continue
        path = Path(directory, name)
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                path.unlink()
                removed.append(path)
    return removed
