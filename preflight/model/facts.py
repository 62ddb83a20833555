"""The normalised, immutable record a probe makes of one input.

Every backend (MediaInfo in-process, ffprobe) produces exactly this record, so nothing downstream
knows which one ran. Units: seconds, bytes, pixels, Hz, bits per second. Unknown is ``None``,
never 0. Codec and container names use FFmpeg's short names (``h264``, ``hevc``, ``aac``,
``pcm_s16le``; ``mp4``, ``mov``, ``matroska``, ``webm``, ``avi``, ``mp3``, ``wav``, ``adts``,
``jpeg``, ``png``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "ROW_FIELDS",
    "ROW_LAYOUT",
    "AudioStream",
    "ImageInfo",
    "MediaFacts",
    "VideoStream",
    "facts_from_row",
    "facts_row",
]

HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})


@dataclass(frozen=True, slots=True)
class VideoStream:
    """The primary video stream.

    ``coded_width``/``coded_height`` are the stored frame size. ``width``/``height`` are what a
    viewer sees: sample aspect ratio applied (width scaled), then rotation metadata applied (sides
    swapped for 90/270). Rules and the fixer use the display size.
    """

    codec: str | None
    width: int | None
    height: int | None
    coded_width: int | None = None
    coded_height: int | None = None
    rotation: int = 0  # degrees clockwise a player turns the frame: 0, 90, 180 or 270
    sample_aspect_ratio: str = "1:1"
    profile: str | None = None
    pix_fmt: str | None = None
    bit_depth: int | None = None
    frame_rate: float | None = None
    variable_frame_rate: bool = False
    duration: float | None = None
    bit_rate: int | None = None
    frame_count: int | None = None
    color_transfer: str | None = None

    @property
    def hdr(self) -> bool:
        """True for PQ (smpte2084) or HLG (arib-std-b67) transfer."""
        return self.color_transfer in HDR_TRANSFERS


@dataclass(frozen=True, slots=True)
class AudioStream:
    """The primary audio stream."""

    codec: str | None
    sample_rate: int | None = None
    channels: int | None = None
    duration: float | None = None
    bit_rate: int | None = None


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """A still image (image2video input)."""

    codec: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True, slots=True)
class MediaFacts:
    """What one probe learned about one input.

    ``container`` is sniffed from the content, never taken from the name; ``extension`` is the
    name's (lower case, no dot, ``""`` if none). ``duration`` is the container's; ``video.duration``
    and ``audio.duration`` are the streams' own. ``effective_duration`` says which one rules use.
    """

    source: str
    backend: str
    container: str | None
    extension: str
    size_bytes: int
    duration: float | None = None
    bit_rate: int | None = None
    video: VideoStream | None = None
    audio: AudioStream | None = None
    image: ImageInfo | None = None
    video_streams: int = 0
    audio_streams: int = 0
    other_streams: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def effective_duration(self) -> float | None:
        """The video stream's duration where known, else the container's, else the audio's."""
        if self.video is not None and self.video.duration is not None:
            return self.video.duration
        if self.duration is not None:
            return self.duration
        if self.audio is not None:
            return self.audio.duration
        return None

    @property
    def duration_source(self) -> str | None:
        """Which duration ``effective_duration`` is: ``video``, ``container``, ``audio`` or None."""
        if self.video is not None and self.video.duration is not None:
            return "video"
        if self.duration is not None:
            return "container"
        if self.audio is not None and self.audio.duration is not None:
            return "audio"
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the `facts` object of the JSON report): ``dataclasses.asdict``'s
        fields and order without ``extra``, plus ``effective_duration``, ``duration_source`` and
        ``video.hdr``. Written out (every field is a plain value) since ``asdict``'s deep copy
        was a measurable part of a batch report."""
        data = {name: getattr(self, name) for name in _FACT_FIELDS}
        video, audio, image = self.video, self.audio, self.image
        if video is not None:
            data["video"] = {name: getattr(video, name) for name in _VIDEO_FIELDS}
            data["video"]["hdr"] = video.color_transfer in HDR_TRANSFERS
        if audio is not None:
            data["audio"] = {name: getattr(audio, name) for name in _AUDIO_FIELDS}
        if image is not None:
            data["image"] = {name: getattr(image, name) for name in _IMAGE_FIELDS}
        data["effective_duration"] = self.effective_duration
        data["duration_source"] = self.duration_source
        return data


# the field names `to_dict` writes, in declaration order (``extra`` is not reported)
_FACT_FIELDS = tuple(f.name for f in fields(MediaFacts) if f.name != "extra")
_VIDEO_FIELDS = tuple(f.name for f in fields(VideoStream))
_AUDIO_FIELDS = tuple(f.name for f in fields(AudioStream))
_IMAGE_FIELDS = tuple(f.name for f in fields(ImageInfo))


# MediaFacts as a row of plain values: its fields in declaration order, each stream (video,
# audio, image) as a list of its own fields in order. The probe cache's records and the check
# results a worker sends back are both this row; positional, it encodes and rebuilds in a third
# of an object's time. `ROW_LAYOUT` names every position, for a store to fingerprint.
ROW_FIELDS = tuple(f.name for f in fields(MediaFacts))
_ROW_PARTS: tuple[tuple[int, type[Any], tuple[str, ...]], ...] = tuple(
    (ROW_FIELDS.index(part), cls, tuple(f.name for f in fields(cls)))
    for part, cls in (("video", VideoStream), ("audio", AudioStream), ("image", ImageInfo))
)
ROW_LAYOUT = (ROW_FIELDS, tuple(names for _, _, names in _ROW_PARTS))


def facts_row(facts: MediaFacts) -> list[Any]:
    """``facts`` as a row (see `ROW_FIELDS`)."""
    values: list[Any] = [getattr(facts, name) for name in ROW_FIELDS]
    for at, _, names in _ROW_PARTS:
        part = values[at]
        if part is not None:
            values[at] = [getattr(part, name) for name in names]
    return values


def facts_from_row(values: list[Any]) -> MediaFacts:
    """The facts a row holds, built by position without the probe's checks (the row came from a
    probe). Raises ValueError for a row of another shape (a field or a stream's field missing)."""
    if len(values) != len(ROW_FIELDS):  # fields with defaults must not go missing
        raise ValueError(f"a facts row has {len(ROW_FIELDS)} values, not {len(values)}")
    for at, cls, names in _ROW_PARTS:
        part = values[at]
        if part is not None:
            if len(part) != len(names):
                raise ValueError(f"a {cls.__name__} row has {len(names)} values, not {len(part)}")
            values[at] = cls(*part)
    return MediaFacts(*values)
