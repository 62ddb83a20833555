"""The one Matroska field MediaInfo does not report: the video's rotation.

FFmpeg stores a display rotation in Matroska/WebM as the Projection element's
``ProjectionPoseRoll`` (a float, degrees, same sign as FFmpeg's display-matrix rotation, that is
counter-clockwise). MediaInfo ignores it, so a rotated .mkv would look unrotated and a re-encode
would come out in the wrong orientation. This reads it from the file's head: the Tracks element
sits before the first Cluster, well inside the bytes read.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

__all__ = ["projection_roll"]

HEAD_BYTES = 1 << 20
_PROJECTION = b"\x76\x70"
_POSE_ROLL = 0x7675


def projection_roll(fh: BinaryIO) -> float | None:
    """ProjectionPoseRoll of the first video track that has one, in degrees; None if absent."""
    fh.seek(0)
    head = fh.read(HEAD_BYTES)
    fh.seek(0)
    start = head.find(_PROJECTION)
    while start != -1:
        roll = _roll_in_projection(head, start + len(_PROJECTION))
        if roll is not None:
            return roll
        start = head.find(_PROJECTION, start + 1)
    return None


def _roll_in_projection(data: bytes, pos: int) -> float | None:
    """Parse one Projection element's children (starting at its size) for ProjectionPoseRoll."""
    size, pos = _vint(data, pos, keep_marker=False)
    if size is None or size > 64 or pos + size > len(data):
        return None  # not a real Projection element: a chance match of the two ID bytes
    end = pos + size
    while pos < end:
        element, pos = _vint(data, pos, keep_marker=True)
        length, pos = _vint(data, pos, keep_marker=False)
        if element is None or length is None or pos + length > end:
            return None
        if element == _POSE_ROLL and length in (4, 8):
            fmt = ">f" if length == 4 else ">d"
            value: float = struct.unpack(fmt, data[pos : pos + length])[0]
            return value
        pos += length
    return None


def _vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int | None, int]:
    """An EBML variable-length integer (element IDs keep their length marker, sizes do not)."""
    if pos >= len(data):
        return None, pos
    first = data[pos]
    length = 1
    mask = 0x80
    while length <= 8 and not first & mask:
        length += 1
        mask >>= 1
    if length > 8 or pos + length > len(data):
        return None, pos
    value = first if keep_marker else first & (mask - 1)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, pos + length
