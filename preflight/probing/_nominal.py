"""MediaInfo's "well-known values": a measured figure close to a standard one is stated as it.

MediaInfo replaces a frame rate or bit rate it computed with the nominal value it is near (the
windows are MediaInfo's own, from its source, ``File__Analyze_Streams.cpp``): 24.99 fps becomes
25, an AVC stream at 56.3 Mb/s becomes AVC-Intra 50's 56.064 Mb/s, AAC at 96,112 b/s becomes
96,000. The MP4/MOV fast path (`_isobmff`) states its figures the same way, so both readings of
a file agree. Only the formats the fast path reads are here (AVC video, AAC audio).
"""

from __future__ import annotations

__all__ = ["aac_bit_rate", "avc_bit_rate", "frame_rate"]

# (low, high] -> nominal frames per second
_FRAME_RATES = (
    (9.990, 10.010, 10.000),
    (11.984, 11.994, 11.988),
    (11.994, 12.010, 12.000),
    (14.980, 14.990, 14.985),
    (14.990, 15.010, 15.000),
    (23.952, 23.988, 23.976),
    (23.988, 24.024, 24.000),
    (24.975, 25.025, 25.000),
    (29.940, 29.985, 29.970),
    (29.970, 30.030, 30.000),
    (23.952 * 2, 23.988 * 2, 23.976 * 2),
    (23.988 * 2, 24.024 * 2, 24.000 * 2),
    (24.975 * 2, 25.025 * 2, 25.000 * 2),
    (29.940 * 2, 29.985 * 2, 29.970 * 2),
    (29.970 * 2, 30.030 * 2, 30.000 * 2),
)
# [low, high] -> nominal bits per second
_AVC = ((54_942_720, 57_185_280, 56_064_000), (111_390_720, 115_937_280, 113_664_000))
_AAC = (
    (46_000, 50_000, 48_000),
    (64_827, 67_473, 66_150),
    (70_560, 73_440, 72_000),
    (94_080, 97_920, 96_000),
    (129_654, 134_946, 132_300),
    (141_120, 146_880, 144_000),
    (188_160, 195_840, 192_000),
    (259_308, 269_892, 264_600),
    (282_240, 293_760, 288_000),
    (345_744, 359_856, 352_800),
    (376_320, 391_680, 384_000),
    (518_616, 539_784, 529_200),
    (564_480, 587_520, 576_000),
    (648_270, 674_730, 661_500),
)  # each +-2 % of its rate, but 48 kb/s's


def frame_rate(fps: float) -> float:
    """A frame rate as MediaInfo states it: the nominal one when it is near one."""
    for low, high, nominal in _FRAME_RATES:
        if low < fps <= high:
            return nominal if abs(nominal - fps) >= 0.000999999 else fps
    return fps


def _snap(value: int, table: tuple[tuple[int, int, int], ...]) -> int:
    for low, high, nominal in table:
        if low <= value <= high:
            return nominal
    return value


def avc_bit_rate(bits: int) -> int:
    """An H.264 stream's bit rate as MediaInfo states it (AVC-Intra's rates are snapped to)."""
    return _snap(bits, _AVC)


def aac_bit_rate(bits: int) -> int:
    """An AAC stream's bit rate as MediaInfo states it."""
    return _snap(bits, _AAC)
