"""libmediainfo through ctypes, loaded once, with a pool of ready handles.

pymediainfo's ``MediaInfo.parse`` loads the library, declares its prototypes, creates a handle,
asks its version and sets six options on every call, then feeds the file through Python in 64 KiB
reads. On a batch of small clips that overhead was a third of the probe's CPU. Here the library
is found the way pymediainfo finds it (its wheel ships ``libmediainfo.so.0`` beside its module,
else the system's), loaded once per process, and each handle is made and configured once and
reused: a probe borrows one from the pool and gives it back, so threads never share a handle.

Files go in through the buffer API, not ``MediaInfo_Open(path)``: the library's own path handling
depends on the process locale (non-ASCII names fail under ``LC_ALL=C``), and the same loop reads
remote inputs through a ranged reader. ``File_TestContinuousFileNames=0`` stops MediaInfo from
looking for numbered siblings (``clip_0001.mp4`` → ``clip_0002.mp4``) as an image sequence.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

__all__ = ["available", "inform"]

_BUFFER = 1 << 16  # bytes per call, as pymediainfo reads: a larger buffer changes what
# MediaInfo reports at ParseSpeed 0 (an AVI lost its bit depth with 1 MiB), and is slower
_FINISHED = 0x08  # MediaInfo_Open_Buffer_Continue's "done" bit
_NO_SEEK = ctypes.c_uint64(-1).value
_OPTIONS = (
    ("CharSet", "UTF-8"),
    ("Inform", "JSON"),
    ("Complete", ""),
    ("Cover_Data", ""),
    ("File_TestContinuousFileNames", "0"),
)


def _library_paths() -> list[str]:
    paths: list[str] = []
    # pymediainfo's wheel carries the library beside its module; find it without importing
    # pymediainfo (its import reads package metadata: ~70 ms of every run's start-up)
    spec = importlib.util.find_spec("pymediainfo")
    if spec is not None and spec.origin:
        shipped = os.path.join(os.path.dirname(spec.origin), "libmediainfo.so.0")
        if os.path.isfile(shipped):
            paths.append(shipped)
    paths.append("libmediainfo.so.0")
    return paths


def _found_library() -> str | None:
    """The system's own lookup (``ldconfig``, ``gcc``: a subprocess), asked only when the usual
    names did not load: importing `ctypes.util` alone costs a run a few milliseconds."""
    import ctypes.util

    return ctypes.util.find_library("mediainfo")


# glibc's mallopt: keep up to this much freed memory at the top of each heap instead of giving
# it back to the system at once. libmediainfo allocates and frees a few hundred KiB a file; on a
# probe thread (a per-thread arena) glibc trimmed the heap after nearly every file and the next
# file faulted the pages back in: 2,000 files on 2 threads took 50,000-430,000 minor page faults
# (bimodal, by how the threads interleave) and up to 1.4 s of system time, against 14,000 on one
# thread; with this setting, 13,000-22,000 on two, and the same peak memory (~65 MB).
_M_TRIM_THRESHOLD = -1
_TRIM_BYTES = 8 << 20


def _keep_freed_memory() -> None:
    """Raise glibc's trim threshold (see above); nothing elsewhere (musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018  glibc only: musl's mallopt does nothing
    except (OSError, AttributeError):
        return
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mallopt(_M_TRIM_THRESHOLD, _TRIM_BYTES)


@functools.cache
def _library() -> Any:
    """The loaded library with its prototypes declared, or None when there is none to load."""
    _keep_freed_memory()
    for path in _library_paths():
        if (lib := _load(path)) is not None:
            return lib
    found = _found_library()
    return _load(found) if found else None


def _load(path: str) -> Any:
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    _declare(lib)
    return lib


def _declare(lib: Any) -> None:
    p, wc, size, u64 = ctypes.c_void_p, ctypes.c_wchar_p, ctypes.c_size_t, ctypes.c_uint64
    lib.MediaInfo_New.argtypes, lib.MediaInfo_New.restype = [], p
    lib.MediaInfo_Delete.argtypes, lib.MediaInfo_Delete.restype = [p], None
    lib.MediaInfo_Option.argtypes, lib.MediaInfo_Option.restype = [p, wc, wc], wc
    lib.MediaInfo_Inform.argtypes, lib.MediaInfo_Inform.restype = [p, size], wc
    lib.MediaInfo_Close.argtypes, lib.MediaInfo_Close.restype = [p], None
    lib.MediaInfo_Open_Buffer_Init.argtypes = [p, u64, u64]
    lib.MediaInfo_Open_Buffer_Init.restype = size
    lib.MediaInfo_Open_Buffer_Continue.argtypes = [p, ctypes.c_char_p, size]
    lib.MediaInfo_Open_Buffer_Continue.restype = size
    lib.MediaInfo_Open_Buffer_Continue_GoTo_Get.argtypes = [p]
    lib.MediaInfo_Open_Buffer_Continue_GoTo_Get.restype = u64
    lib.MediaInfo_Open_Buffer_Finalize.argtypes = [p]
    lib.MediaInfo_Open_Buffer_Finalize.restype = size


def available() -> bool:
    """True when libmediainfo loads and answers with its version."""
    lib = _library()
    if lib is None:
        return False
    with _handle("0") as handle:
        return bool(lib.MediaInfo_Option(handle, "Info_Version", ""))


class _Pool:
    """Configured handles, one per concurrent probe at most; each made once and kept."""

    def __init__(self) -> None:
        self._free: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def take(self, speed: str) -> int:
        with self._lock:
            handle, current = self._free.pop() if self._free else (0, "")
        lib = _library()
        if not handle:
            handle = lib.MediaInfo_New()
            for key, value in _OPTIONS:
                lib.MediaInfo_Option(handle, key, value)
        if current != speed:
            lib.MediaInfo_Option(handle, "ParseSpeed", speed)
        return int(handle)

    def give(self, handle: int, speed: str) -> None:
        with self._lock:
            self._free.append((handle, speed))


_POOL = _Pool()


@contextmanager
def _handle(speed: str) -> Iterator[int]:
    handle = _POOL.take(speed)
    try:
        yield handle
    finally:
        _library().MediaInfo_Close(handle)
        _POOL.give(handle, speed)


def inform(fh: BinaryIO, speed: float) -> str:
    """MediaInfo's JSON report of the open, seekable file ``fh`` at parse speed ``speed`` (0..1).

    Raises OSError when the library cannot be loaded; read errors of ``fh`` propagate.
    """
    lib = _library()
    if lib is None:
        raise OSError("libmediainfo could not be loaded")
    with _handle(f"{speed:g}") as handle:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(0)
        lib.MediaInfo_Open_Buffer_Init(handle, size, 0)
        while chunk := fh.read(_BUFFER):
            if lib.MediaInfo_Open_Buffer_Continue(handle, chunk, len(chunk)) & _FINISHED:
                break
            seek = lib.MediaInfo_Open_Buffer_Continue_GoTo_Get(handle)
            if seek != _NO_SEEK:
                fh.seek(seek)
                lib.MediaInfo_Open_Buffer_Init(handle, size, fh.tell())
        lib.MediaInfo_Open_Buffer_Finalize(handle)
        return str(lib.MediaInfo_Inform(handle, 0) or "")
