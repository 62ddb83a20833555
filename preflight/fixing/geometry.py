"""Frame size arithmetic for the fixer: fit a display size into a profile's window.

Pure integer/float arithmetic, no FFmpeg. Sizes are display pixels (rotation and sample aspect
ratio already applied); outputs are even (4:2:0 needs it) and inside the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["Geometry", "ceil_even", "fit_window", "floor_even"]

_HUGE = 1 << 20


def floor_even(value: float) -> int:
    return max(2, math.floor(value + 1e-6) // 2 * 2)


def ceil_even(value: float) -> int:
    return max(2, math.ceil(value / 2 - 1e-6) * 2)


@dataclass(frozen=True, slots=True)
class Geometry:
    """Where a frame ends up: scaled to ``scaled_*``, then padded or cropped to the full size."""

    width: int
    height: int
    scaled_width: int
    scaled_height: int
    fit: Literal["none", "scale", "pad", "crop"]
    factor: float  # the scale factor applied to the display size

    @property
    def upscaled(self) -> bool:
        return self.factor > 1.0 + 1e-6


def fit_window(
    width: int,
    height: int,
    *,
    min_width: int | None = None,
    max_width: int | None = None,
    min_height: int | None = None,
    max_height: int | None = None,
    aspect: Literal["pad", "crop"] = "pad",
    square_pixels: bool = True,
) -> Geometry:
    """The output size for a ``width`` x ``height`` display inside the window.

    One scale factor for both sides when one exists (1.0 if the size already fits, else the
    factor closest to 1), sides rounded to even numbers inward (toward the inside of the window).
    When no single factor fits (a 5:1 banner in a 720-1920 window), ``pad`` scales to fit the
    maxima and pads the short side to its minimum (centred, black); ``crop`` scales to reach the
    minima and crops the long side to its maximum (centred).
    """
    lo_w = ceil_even(min_width) if min_width else 2
    lo_h = ceil_even(min_height) if min_height else 2
    hi_w = floor_even(max_width) if max_width else _HUGE
    hi_h = floor_even(max_height) if max_height else _HUGE
    s_lo = max(lo_w / width, lo_h / height)
    s_hi = min(hi_w / width, hi_h / height)
    if s_lo <= s_hi + 1e-9:
        factor = min(max(1.0, s_lo), s_hi)
        out_w = _inward(width * factor, lo_w, hi_w)
        out_h = _inward(height * factor, lo_h, hi_h)
        unchanged = (out_w, out_h) == (width, height) and square_pixels
        return Geometry(out_w, out_h, out_w, out_h, "none" if unchanged else "scale", factor)
    if aspect == "pad":
        factor = s_hi
        sw = _inward(width * factor, 2, hi_w)
        sh = _inward(height * factor, 2, hi_h)
        return Geometry(max(sw, lo_w), max(sh, lo_h), sw, sh, "pad", factor)
    factor = s_lo
    sw = max(floor_even(width * factor), lo_w)
    sh = max(floor_even(height * factor), lo_h)
    return Geometry(min(sw, hi_w), min(sh, hi_h), sw, sh, "crop", factor)


def _inward(value: float, low: int, high: int) -> int:
    """``value`` rounded down to even, unless that leaves the window (then the nearest edge)."""
    return min(max(floor_even(value), low), high)
