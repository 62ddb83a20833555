"""Display geometry shared by the backends: sample aspect ratio, rotation, display size.

A viewer sees the coded frame scaled horizontally by the sample aspect ratio (SAR), then turned
by the rotation metadata. So 1440x1080 at SAR 4:3 shows as 1920x1080, and 1280x720 turned by 90
degrees shows as 720x1280.
"""

from __future__ import annotations

from fractions import Fraction

__all__ = ["display_size", "normalise_rotation", "sar_from_float", "sar_from_ratio"]


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
    return Fraction(n, d)


def sar_from_float(value: float | None, *, decimals: int = 3) -> Fraction | None:
    """MediaInfo's ``1.333`` (rounded to ``decimals``) -> the simplest fraction rounding to it."""
    if value is None or value <= 0 or value == 1.0:
        return None
    half = Fraction(1, 2 * 10**decimals)
    target = Fraction(str(round(value, decimals)))
    if target == 1:
        return None
    return _simplest_between(target - half, target + half)


def _simplest_between(low: Fraction, high: Fraction) -> Fraction:
    """The fraction with the smallest denominator in [low, high] (Stern-Brocot descent)."""
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
