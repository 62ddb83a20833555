"""Probing: one input (a path or an ``http(s)://`` URL) in, one immutable ``MediaFacts`` out.

::

    probe("clip.mp4")                       # MediaInfo in-process (the default, always there)
    probe("clip.mp4", backend="ffprobe")    # the same record from ffprobe
    PREFLIGHT_PROBE_FAST=0                  # MP4/MOV through MediaInfo too (see `_isobmff`)
    probe_many(paths, cache=True)           # in order, both cores, errors in their slots

Every input that cannot be read as media raises ``InputError`` (``exc.source`` names the input;
the message says why, without repeating the name). A file with streams but no video is not an
error: its facts have ``video=None`` and the rules judge it.

The container is decided by content: the backend names the family, a magic-byte sniff
(``_sniff``) confirms it and picks the member (mp4 vs mov by ftyp brand, matroska vs webm by
DocType), and the same sniff rejects files whose structure is cut short.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

from preflight.model.errors import ConfigError, InputError, ProbeError
from preflight.model.facts import MediaFacts
from preflight.model.sources import is_url
from preflight.probing._local import check_path, open_input

if TYPE_CHECKING:
    from preflight.probing._parsed import Parsed
    from preflight.probing._sniff import Sniff

__all__ = ["BACKENDS", "cache_dir", "probe", "probe_many"]

BACKENDS = ("auto", "mediainfo", "ffprobe")

# an MP3 whose header (Xing/Info frame count) promises this much more than the file holds is cut
# short; other audio is judged by its container's own sizes (RIFF, ISO boxes), since a VBR codec's
# nominal bit rate says little about its real size
_TRUNCATION_SLACK = 0.8
_TEXT = "not a media file: its content is plain text"
_UNKNOWN = "not a media file: its content is not a format MediaInfo or FFmpeg knows"


def cache_dir() -> Path:
    """The folder preflight keeps its caches in: ``$PREFLIGHT_CACHE_DIR``, else the platform's
    user cache folder (the probe cache, and the parsed profiles beside it)."""
    from preflight.probing import _cache

    return _cache.cache_dir()


def resolve_backend(backend: str) -> str:
    """``auto`` -> ``mediainfo``; anything not in BACKENDS is a usage error."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown probe backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return "mediainfo" if backend == "auto" else backend


def probe(
    source: str | os.PathLike[str], *, backend: str = "auto", cache: bool = False
) -> MediaFacts:
    """Probe one local path or ``http(s)://`` URL. Raises InputError if it is not readable media."""
    name = resolve_backend(backend)
    text = os.fspath(source)
    if is_url(text):  # the remote reader (and its HTTP client) load only for a URL
        from preflight.probing import _remote

        return _remote.probe_url(text, backend=name)
    st = check_path(text)
    store = None
    if cache:
        from preflight.probing import _cache

        store = _cache.open_cache()
        hit = store.get(text, st, name) if store is not None else None
        if hit is not None:
            return hit
    with open_input(text) as fh:
        facts = read_open(
            fh, st.st_size, source=text, extension=extension_of(text), backend=name, path=text
        )
    if store is not None:
        store.put(text, st, name, facts)
    return facts


def probe_fast(source: str, *, backend: str) -> MediaFacts | None:
    """`probe` (no cache) where the pure-Python MP4/MOV reader answers; None where it does not.

    `probe_many` runs these in its own thread first: they hold the GIL the whole time, so
    probe threads would only take turns on them (and pay for the switching).
    """
    if resolve_backend(backend) != "mediainfo" or is_url(source):
        return None
    from preflight.probing import _isobmff

    if not _isobmff.enabled():
        return None
    st = check_path(source)
    with open_input(source) as fh:
        return _read(
            fh,
            st.st_size,
            source=source,
            extension=extension_of(source),
            backend="mediainfo",
            path=source,
            fast_only=True,
        )


def extension_of(name: str) -> str:
    """The name's extension, lower case, without the dot ("" if none)."""
    return PurePosixPath(name.replace("\\", "/")).suffix.lower().lstrip(".")


def read_open(
    fh: BinaryIO,
    size: int,
    *,
    source: str,
    extension: str,
    backend: str,
    path: str | None,
) -> MediaFacts:
    """Sniff and parse an open input of ``size`` bytes. ``path`` is what ffprobe should open."""
    facts = _read(
        fh, size, source=source, extension=extension, backend=backend, path=path, fast_only=False
    )
    assert facts is not None  # only a fast-only reading declines
    return facts


def _read(
    fh: BinaryIO,
    size: int,
    *,
    source: str,
    extension: str,
    backend: str,
    path: str | None,
    fast_only: bool,
) -> MediaFacts | None:
    # the sniff and the parsed record (~3 ms with struct) load only when a file is read: a cache
    # hit, the usual one-file check run again, never needs them
    from preflight.probing._sniff import sniff

    sniffed = sniff(fh, size)
    if sniffed.problem is not None:
        raise InputError(sniffed.problem, source=source)
    if sniffed.container is None and sniffed.looks_like_text:
        raise InputError(_TEXT, source=source)
    fast = None
    if fast_only:
        from preflight.probing import _isobmff

        fast = _isobmff.read(fh, size, sniffed) if sniffed.container in ("mp4", "mov") else None
        if fast is None:
            return None
    try:
        parsed = fast if fast is not None else _parse(fh, size, backend, path, sniffed)
    except ProbeError as exc:
        reason = str(exc) if sniffed.container is not None else f"{_UNKNOWN} ({exc})"
        raise ProbeError(reason, source=source) from exc
    extra = _header_extra(parsed, fh, size)
    _judge(parsed, sniffed, size, source)
    return MediaFacts(
        source=source,
        backend=backend,
        container=parsed.container,
        extension=extension,
        size_bytes=size,
        duration=parsed.duration,
        bit_rate=parsed.bit_rate,
        video=parsed.video,
        audio=parsed.audio,
        image=parsed.image,
        video_streams=parsed.video_streams,
        audio_streams=parsed.audio_streams,
        other_streams=parsed.other_streams,
        extra=extra,
    )


def _parse(fh: BinaryIO, size: int, backend: str, path: str | None, sniffed: Sniff) -> Parsed:
    if backend == "mediainfo" and sniffed.container in ("mp4", "mov"):
        from preflight.probing import _isobmff  # MediaInfo's figures, read from moov in Python

        if _isobmff.enabled() and (fast := _isobmff.read(fh, size, sniffed)) is not None:
            return fast
    if backend == "ffprobe":
        from preflight.probing import _ffprobe

        if path is None:  # pragma: no cover - remote inputs hand ffprobe a URL or a local copy
            raise ProbeError("ffprobe needs a path or URL")
        return _ffprobe.read(path, sniffed)
    from preflight.probing import _mediainfo

    return _mediainfo.read(fh, sniffed)


def _header_extra(parsed: Parsed, fh: BinaryIO, size: int) -> dict[str, Any]:
    """A copy of ``parsed.extra`` noting (in ``geometry_conflict``) an MP4/MOV whose headers lie
    about the size.

    Done here, on the open input, so both backends see the same headers (see `_geometry`).
    """
    from preflight.probing._geometry import iso_header_conflict, iso_video_header_sizes

    extra = dict(parsed.extra)
    if parsed.video is None or parsed.container not in ("mp4", "mov"):
        return extra
    sizes = extra.pop("iso_header_sizes", None)  # the MP4/MOV fast path read them already
    conflict = iso_header_conflict(parsed.video, *(sizes or iso_video_header_sizes(fh, size)))
    if conflict is not None:
        extra["geometry_conflict"] = conflict
    return extra


def _judge(parsed: Parsed, sniffed: Sniff, size: int, source: str) -> None:
    """Raise InputError when the backend's reading shows the input is not usable media."""
    has_media = parsed.video is not None or parsed.audio is not None or parsed.image is not None
    if not parsed.recognised or (not has_media and sniffed.container is None):
        raise InputError(_UNKNOWN, source=source)
    if not has_media:
        raise InputError(
            f"no audio, video or image stream found in this {parsed.container or 'file'}",
            source=source,
        )
    if parsed.truncated:
        raise InputError(
            f"truncated file: the {parsed.container or 'media'} file ends before its data does",
            source=source,
        )
    audio = parsed.audio
    if (
        parsed.container == "mp3"  # frame count in the header, fixed bytes per second
        and audio is not None
        and audio.bit_rate
        and audio.duration
        and size < _TRUNCATION_SLACK * audio.duration * audio.bit_rate / 8
    ):
        expected = int(audio.duration * audio.bit_rate / 8)
        raise InputError(
            f"truncated file: its header promises {audio.duration:.2f} s of audio "
            f"(about {expected} bytes) but the file has only {size} bytes",
            source=source,
        )


def probe_many(
    sources: Iterable[str | os.PathLike[str]],
    *,
    backend: str = "auto",
    cache: bool = False,
    workers: int | None = None,
) -> list[MediaFacts | InputError]:
    """Probe many inputs on all cores, in order; an unreadable input's slot holds its InputError."""
    from preflight.probing._many import run_many

    resolve_backend(backend)
    return run_many(list(sources), backend=backend, cache=cache, workers=workers)
