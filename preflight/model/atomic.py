"""Files that appear whole or not at all: the one write-to-temp-then-rename in preflight.

Every output preflight writes (reports, fixed media, contact sheets, downloads, the sandbox's
stored inputs) goes through here: the bytes go to a temp file in the target's folder (same file
system, so the rename is atomic), are flushed and fsynced, then moved over the target with
`os.replace`. A crash or an error leaves the old target (or none) and no temp file behind.

- `atomic_open`: a file object to write; the target appears when the block ends without error.
- `write_atomic`: the same for data already in memory.
- `move_into_place`: for a temp file written by someone else (FFmpeg, a resumable download, a
  content-addressed store whose name is known only at the end).

A target that exists and is not a regular file (``/dev/null``, ``/dev/stdout``, a FIFO) is written
to directly: renaming over it would replace the device with a plain file.

This module sits at the bottom layer (`preflight.model`) so every stage can use it; it raises
plain `OSError`, which each caller words for its own user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "move_into_place", "shared_perms", "temp_beside", "write_atomic"]

PART_SUFFIX = ".part"


def temp_beside(target: str | os.PathLike[str], *, prefix: str | None = None) -> Path:
    """A new empty temp file in ``target``'s folder (``.NAME.XXXX.part``); the caller owns it.

    ``target`` may be a folder, for a file whose final name is known only after writing it.
    """
    path = Path(target)
    folder, name = (path, "") if path.is_dir() else (path.parent, path.name)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix or f".{name}.", suffix=PART_SUFFIX)
    os.close(fd)
    return Path(tmp)


def move_into_place(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """fsync ``tmp`` and rename it over ``target`` (same folder, or at least the same file system).

    The folder is fsynced too where the platform allows, so the rename itself survives a crash.
    A target that is a device or a FIFO gets the bytes copied into it instead.
    """
    if _special(target):
        with open(tmp, "rb") as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)
        os.unlink(tmp)
        return Path(target)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    _sync_folder(Path(target).parent)
    return Path(target)


@contextlib.contextmanager
def atomic_open(
    target: str | os.PathLike[str],
    mode: str = "wb",
    *,
    encoding: str | None = None,
    perms: int | None = None,
) -> Iterator[IO[Any]]:
    """A file to write (``wb`` or ``w``) that appears at ``target`` only when the block finishes
    without error. ``perms`` sets the mode bits (mkstemp makes 0600; a shared file wants 0644)."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes a new file: mode 'wb' or 'w', not {mode!r}")
    if _special(target):  # /dev/null and friends: there is nothing to half-write
        with open(target, mode, encoding=encoding) as fh:
            yield fh
        return
    tmp = temp_beside(target)
    try:
        newline = "\n" if mode == "w" else None
        with open(tmp, mode, encoding=encoding, newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if perms is not None:
            os.chmod(tmp, perms)
        os.replace(tmp, target)
        _sync_folder(Path(target).parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_atomic(target: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``target`` whole, through `atomic_open`."""
    if isinstance(data, str):
        with atomic_open(target, "w", encoding="utf-8") as fh:
            fh.write(data)
    else:
        with atomic_open(target, "wb") as fh:
            fh.write(data)
    return Path(target)


def shared_perms() -> int:
    """``0666`` less the process umask: what an ordinary new file would get."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _special(target: str | os.PathLike[str]) -> bool:
    """Whether ``target`` exists and is not a regular file (a device, a FIFO)."""
    try:
        return not stat.S_ISREG(os.stat(target).st_mode)
    except OSError:
        return False


def _sync_folder(folder: Path) -> None:
    """fsync a folder so a rename in it is durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
