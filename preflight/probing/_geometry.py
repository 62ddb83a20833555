"""Display geometry shared by the backends: sample aspect ratio, rotation, display size.

A viewer sees the coded frame scaled horizontally by the sample aspect ratio (SAR), then turned
by the rotation metadata. So 1440x1080 at SAR 4:3 shows as 1920x1080, and 1280x720 turned by 90
degrees shows as 720x1280.

The coded size is the video stream's own (the H.264/HEVC parameter sets): what a decoder, and so
FFmpeg and the provider, will produce. An MP4/MOV also states a size twice in its headers, in the
track header (``tkhd``, the presentation size) and in the sample description (``avc1``...).
Those can lie (a file patched or badly muxed to say 16384x16384 over 1280x720 frames); one
backend then trusted the header and the other the stream, and the fixer stretched 16:9 frames to a
square. Both backends judge by the stream, and :func:`iso_header_conflict` says when the headers
disagree with it, so the check can warn.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, BinaryIO

from preflight.model.facts import VideoStream

if TYPE_CHECKING:  # fractions brings decimal (~2 ms): imported where a non-square SAR needs it
    from fractions import Fraction

__all__ = [
    "display_size",
    "iso_header_conflict",
    "iso_video_header_sizes",
    "normalise_rotation",
    "sar_from_float",
    "sar_from_ratio",
]

MAX_MOOV_BYTES = 32 << 20  # a moov larger than this is not read for the header check
MAX_TOP_BOXES = 4096
# headers and stream may differ by codec padding (1080 vs 1088) or rounding of SAR
SIZE_TOLERANCE_PX = 16


def normalise_rotation(degrees: float | None) -> int:
    """Any angle -> 0, 90, 180 or 270 (nearest quarter turn, clockwise)."""
    if degrees is None:
        return 0
    return round(degrees / 90.0) % 4 * 90


def sar_from_ratio(text: str | None) -> Fraction | None:
    """ffprobe's ``"4:3"`` -> Fraction(4, 3); ``"0:1"``/``"1:1"``/missing -> None (square)."""
    if not text or ":" not in text:
        return None
    num, _, den = text.partition(":")
    try:
        n, d = int(num), int(den)
    except ValueError:
        return None
    if n <= 0 or d <= 0 or n == d:
        return None
    from fractions import Fraction

    return Fraction(n, d)


def sar_from_float(value: float | None, *, decimals: int = 3) -> Fraction | None:
    """MediaInfo's ``1.333`` (rounded to ``decimals``) -> the simplest fraction rounding to it."""
    if value is None or value <= 0 or value == 1.0:
        return None
    from fractions import Fraction

    half = Fraction(1, 2 * 10**decimals)
    target = Fraction(str(round(value, decimals)))
    if target == 1:
        return None
    return _simplest_between(target - half, target + half)


def _simplest_between(low: Fraction, high: Fraction) -> Fraction:
    """The fraction with the smallest denominator in [low, high] (Stern-Brocot descent)."""
    from fractions import Fraction

    lo_n, lo_d, hi_n, hi_d = 0, 1, 1, 0
    while True:
        mid = Fraction(lo_n + hi_n, lo_d + hi_d)
        if mid < low:
            lo_n, lo_d = mid.numerator, mid.denominator
        elif mid > high:
            hi_n, hi_d = mid.numerator, mid.denominator
        else:
            return mid


def sar_text(sar: Fraction | None) -> str:
    return "1:1" if sar is None else f"{sar.numerator}:{sar.denominator}"


def display_size(
    width: int | None, height: int | None, sar: Fraction | None, rotation: int
) -> tuple[int | None, int | None]:
    """Coded size -> what a viewer sees (SAR on the width, then rotation)."""
    if width is None or height is None:
        return width, height
    shown_w = width if sar is None else round(width * sar)
    if rotation in (90, 270):
        return height, shown_w
    return shown_w, height


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes in ``data[start:end]``; stops at a bad size."""
    found: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= end and len(found) < MAX_TOP_BOXES:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                break
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            break
        found.append((kind, pos + header, pos + size))
        pos += size
    return found


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((s, e) for k, s, e in _boxes(data, start, end) if k == kind), None)


def _read_moov(fh: BinaryIO, size: int) -> bytes | None:
    """The ``moov`` box's payload, found by hopping over the top-level boxes (mdat is skipped)."""
    pos = 0
    for _ in range(MAX_TOP_BOXES):
        if pos + 8 > size:
            return None
        fh.seek(pos)
        head = fh.read(16)
        if len(head) < 8:
            return None
        length, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if length == 1 and len(head) == 16:
            length, header = struct.unpack(">Q", head[8:16])[0], 16
        elif length == 0:
            length = size - pos
        if length < header:
            return None
        if kind == b"moov":
            if length - header > MAX_MOOV_BYTES:
                return None
            fh.seek(pos + header)
            return fh.read(length - header)
        pos += length
    return None


def iso_video_header_sizes(
    fh: BinaryIO, size: int
) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """What the first video track's headers say: (``tkhd`` width x height, sample entry's).

    Either is None when absent or zero. Never raises on a malformed file: it then knows nothing.
    """
    try:
        moov = _read_moov(fh, size)
    except (OSError, ValueError, struct.error):
        moov = None
    finally:
        fh.seek(0)
    if moov is None:
        return None, None
    for kind, start, end in _boxes(moov, 0, len(moov)):
        if kind != b"trak":
            continue
        found = _video_track_sizes(moov, start, end)
        if found is not None:
            return found
    return None, None


def _video_track_sizes(
    data: bytes, start: int, end: int
) -> tuple[tuple[int, int] | None, tuple[int, int] | None] | None:
    mdia = _child(data, start, end, b"mdia")
    hdlr = mdia and _child(data, *mdia, b"hdlr")
    if mdia is None or hdlr is None or data[hdlr[0] + 8 : hdlr[0] + 12] != b"vide":
        return None
    tkhd_size = None
    tkhd = _child(data, start, end, b"tkhd")
    if tkhd is not None:
        at = tkhd[0] + (88 if data[tkhd[0]] == 1 else 76)
        if at + 8 <= tkhd[1]:
            w, h = struct.unpack(">II", data[at : at + 8])
            if w and h:
                tkhd_size = (round(w / 65536), round(h / 65536))
    entry_size = None
    stbl = None
    minf = _child(data, *mdia, b"minf")
    if minf is not None:
        stbl = _child(data, *minf, b"stbl")
    stsd = stbl and _child(data, *stbl, b"stsd")
    if stsd is not None:
        entries = _boxes(data, stsd[0] + 8, stsd[1])
        if entries and entries[0][1] + 28 <= entries[0][2]:
            at = entries[0][1] + 24
            w, h = struct.unpack(">HH", data[at : at + 4])
            if w and h:
                entry_size = (w, h)
    return tkhd_size, entry_size


def _differs(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return any(abs(x - y) > max(SIZE_TOLERANCE_PX, 0.02 * y) for x, y in zip(a, b, strict=True))


def iso_header_conflict(
    video: VideoStream, tkhd: tuple[int, int] | None, entry: tuple[int, int] | None
) -> str | None:
    """A sentence when the MP4/MOV headers state another picture size than the stream has."""
    if video.coded_width is None or video.coded_height is None:
        return None
    coded = (video.coded_width, video.coded_height)
    sar = sar_from_ratio(video.sample_aspect_ratio)
    presented = (coded[0] if sar is None else round(coded[0] * sar), coded[1])
    claims = []
    if tkhd is not None and _differs(tkhd, presented):
        claims.append(f"the track header says {tkhd[0]}x{tkhd[1]}")
    if entry is not None and _differs(entry, coded):
        claims.append(f"the sample description says {entry[0]}x{entry[1]}")
    if not claims:
        return None
    return (
        f"the header lies about the picture size: {' and '.join(claims)}, the video stream is "
        f"{coded[0]}x{coded[1]}; judged by the stream, as a decoder shows it (players that trust "
        "the header may show it distorted; a re-encode writes a true header)"
    )
