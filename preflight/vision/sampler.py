"""Frames sampled from a video by FFmpeg, at reduced size, straight into memory.

FFmpeg decodes the whole stream (later frames depend on earlier ones), keeps ``rate`` frames a
second (``fps`` filter, before scaling so only kept frames are scaled), scales them to fit inside
``max_side`` pixels and writes them raw (``gray`` or ``bgr24``) to a pipe. Nothing touches the
disk. Sample ``k`` shows the clip at ``k / rate`` seconds and stands for the interval
``[k / rate, (k + 1) / rate)``.

FFmpeg applies rotation metadata while decoding, and the explicit output size applies the sample
aspect ratio, so samples are upright and in display proportions.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from preflight.toolchain.runner import input_args
from preflight.vision import DEFAULT_RATE
from preflight.vision._ffmpeg import stream_raw

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["DEFAULT_MAX_SIDE", "DEFAULT_RATE", "Frame", "SampleGeometry", "geometry", "sample"]

DEFAULT_MAX_SIDE = 640  # sampled frames fit inside 640x640 (1080p -> 640x360)

PixelFormat = Literal["gray", "bgr24"]
_CHANNELS: dict[str, int] = {"gray": 1, "bgr24": 3}


@dataclass(frozen=True, slots=True)
class SampleGeometry:
    """Display size of the video and the size frames are sampled at (both even or as shown)."""

    width: int  # display pixels
    height: int
    sample_width: int
    sample_height: int

    @property
    def scale(self) -> float:
        """Display pixels per sample pixel."""
        return self.width / self.sample_width


@dataclass(frozen=True, slots=True)
class Frame:
    """One sampled frame: its index, time in seconds, and pixels (``H x W`` or ``H x W x 3``)."""

    index: int
    time: float
    image: npt.NDArray[np.uint8] = field(repr=False, compare=False)


def geometry(width: int, height: int, max_side: int = DEFAULT_MAX_SIDE) -> SampleGeometry:
    """The sample size for a ``width`` x ``height`` display: fit inside ``max_side``, even sides."""
    if width <= 0 or height <= 0:
        raise ValueError(f"display size must be positive, got {width}x{height}")
    factor = min(1.0, max_side / max(width, height))
    sw = max(2, 2 * round(width * factor / 2))
    sh = max(2, 2 * round(height * factor / 2))
    return SampleGeometry(width, height, sw, sh)


def sample(
    source: str | os.PathLike[str],
    geom: SampleGeometry,
    *,
    rate: float = DEFAULT_RATE,
    pix_fmt: PixelFormat = "gray",
    start: float = 0.0,
    duration: float | None = None,
    fast_decode: bool = False,
) -> Iterator[Frame]:
    """Yield sampled frames of ``source`` in order, as FFmpeg decodes them.

    ``start``/``duration`` (seconds) limit the part of the clip that is read; times stay relative
    to the clip's start. ``fast_decode`` skips H.264's loop filter while decoding: off by default,
    as it saves only ~0.1 s CPU per 10 s of 1080p (``benchmarks/face_speed.py``) and leaves block
    edges that raise the sharpness measurement a little.
    Raises ``FFmpegError`` when FFmpeg fails (its stderr tail attached).
    """
    import numpy as np

    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"sample rate must be a positive number, got {rate!r}")
    channels = _CHANNELS[pix_fmt]
    frame_bytes = geom.sample_width * geom.sample_height * channels
    shape = (
        (geom.sample_height, geom.sample_width)
        if channels == 1
        else (geom.sample_height, geom.sample_width, channels)
    )
    before: list[str] = ["-skip_loop_filter", "all"] if fast_decode else []
    if start > 0:
        before += ["-ss", f"{start:.3f}"]
    after: list[str] = ["-t", f"{duration:.3f}"] if duration is not None else []
    vf = f"fps={rate:g},scale={geom.sample_width}:{geom.sample_height}:flags=area"
    argv = [
        "-loglevel", "error", *before, *input_args(source), *after,
        "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", vf,
        "-pix_fmt", pix_fmt, "-f", "rawvideo", "pipe:1",
    ]  # fmt: skip
    for index, chunk in enumerate(stream_raw(argv, frame_bytes)):
        image = np.frombuffer(chunk, dtype=np.uint8).reshape(shape)
        yield Frame(index, start + index / rate, image)
