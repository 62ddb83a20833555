"""What a backend hands back: the media part of ``MediaFacts``, before the input's own facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from preflight.model.facts import AudioStream, ImageInfo, VideoStream

__all__ = ["Parsed"]


@dataclass(frozen=True, slots=True)
class Parsed:
    """A backend's reading of one input. ``recognised`` is False when it found no media at all;
    ``truncated`` is the backend's own verdict that the file ends early."""

    container: str | None
    duration: float | None = None
    bit_rate: int | None = None
    video: VideoStream | None = None
    audio: AudioStream | None = None
    image: ImageInfo | None = None
    video_streams: int = 0
    audio_streams: int = 0
    other_streams: int = 0
    truncated: bool = False
    recognised: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
