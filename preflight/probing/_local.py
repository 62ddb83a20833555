"""Local inputs: look before reading, and say exactly why a path cannot be read."""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

from preflight.model.errors import InputError

__all__ = ["check_path", "open_input"]


def check_path(path: str) -> os.stat_result:
    """``os.stat`` the input, raising InputError with a specific reason for anything unreadable."""
    try:
        st = os.stat(path)
    except ValueError as exc:  # an embedded NUL byte
        raise InputError(f"invalid path: {exc}", source=path) from exc
    except OSError as exc:
        raise InputError(_reason(exc), source=path) from exc
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a directory, not a media file", source=path)
    if not stat.S_ISREG(st.st_mode):
        raise InputError("not a regular file (a device, pipe or socket)", source=path)
    if st.st_size == 0:
        raise InputError("empty file (0 bytes)", source=path)
    return st


def open_input(path: str) -> BinaryIO:
    """Open the input for reading (never for writing), translating errors to InputError."""
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(_reason(exc), source=path) from exc


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOENT,):
        return "no such file"
    if exc.errno == errno.ENOTDIR:
        return "no such file (a part of its path is not a directory)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: the file cannot be read"
    if exc.errno == errno.EISDIR:
        return "is a directory, not a media file"
    if exc.errno == errno.ENAMETOOLONG:
        return "the file name is too long"
    return f"cannot read it: {exc.strerror or exc}"
