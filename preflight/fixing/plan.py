"""Fix plans as values: what will be done to one input, and why. Rendering lives elsewhere.

A `FixPlan` is made by `preflight.fixing.planner.plan` (pure: facts, findings and profile in) and
turned into FFmpeg arguments by `preflight.fixing.graph`. Its `steps` explain the plan to a person;
its `video`/`audio` specs hold the resolved numbers the graph needs.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "AudioSpec",
    "FixOptions",
    "FixPlan",
    "FixStep",
    "Role",
    "Strategy",
    "VideoSpec",
]

Role = Literal["video", "audio"]


class Strategy(enum.StrEnum):
    """How the output is made, cheapest first."""

    NONE = "none"  # already compliant: copied byte for byte, or skipped
    REMUX = "remux"  # streams copied into a new container (audio may be re-encoded)
    REENCODE = "reencode"  # one pass that re-encodes the video (and audio)
    AUDIO = "audio"  # an audio input converted for audio2video
    UNFIXABLE = "unfixable"  # nothing FFmpeg can do; ``reason`` says why


@dataclass(frozen=True, slots=True)
class FixOptions:
    """What the user chose (CLI flags / library keywords)."""

    start: float | None = None  # --start: first second of the window to keep
    end: float | None = None  # --end: last second of the window to keep
    extend: Literal["freeze", "loop"] = "freeze"
    aspect: Literal["pad", "crop"] = "pad"
    fit_audio: bool = False
    preset: str = "fast"  # libx264 preset: quality per bit vs speed
    crf: int = 20
    audio_bitrate: int = 128_000
    max_attempts: int = 3  # encodes per input when compressing to a size
    timeout: float | None = None  # seconds per FFmpeg run; None: scaled from the duration
    quality: bool = True  # measure SSIM of re-encodes against the source
    min_duration: float | None = None  # lengthen the video to at least this (fit to an audio)
    fit_to: float | None = None  # trim or pad an audio input to this length (fit to a video)
    role: Literal["video", "audio"] | None = None  # None: audio-only files are audio inputs
    face: bool = True  # the profile's face rules are part of the proof (--no-face: skipped)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FixStep:
    """One change the plan makes, with the rule it answers and a sentence saying what and why."""

    kind: str  # remux, transcode-video, transcode-audio, trim, extend, scale, pad, crop,
    # tonemap, frame-rate, compress, fit-audio, convert-audio, copy
    reason: str
    rule: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rule": self.rule, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class VideoSpec:
    """The video stream of the output. ``codec == "copy"`` keeps the source stream as it is."""

    codec: str = "copy"  # "copy" | "libx264"
    width: int | None = None  # display size of the output (square pixels)
    height: int | None = None
    fit: Literal["none", "scale", "pad", "crop"] = "none"
    scaled_width: int | None = None  # size after scaling, before pad/crop
    scaled_height: int | None = None
    scale_flags: str = "lanczos"  # swscale: "area" when shrinking both sides, else "lanczos"
    frame_rate: str | None = None  # "25" or "30000/1001": constant output rate
    frames: int | None = None  # exact number of frames written
    tonemap: bool = False  # HDR -> SDR with zscale + tonemap
    to_8bit: bool = False
    extend: Literal["freeze", "loop"] | None = None
    extend_by: float = 0.0
    crf: int | None = None
    bitrate: int | None = None  # target bits/s (compress-to-size); with crf: the cap (maxrate)
    preset: str = "fast"
    hevc_tag: bool = False


@dataclass(frozen=True, slots=True)
class AudioSpec:
    """The audio stream of the output; ``codec`` None drops audio (there was none)."""

    codec: str | None = "copy"  # "copy" | "aac" | "libmp3lame" | "pcm_s16le" | None
    bitrate: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    pad_to: float | None = None  # pad with silence to at least this many seconds


@dataclass(frozen=True, slots=True)
class FixPlan:
    """Everything `fix` will do to one input. ``commands`` is filled in by `plan_fix`."""

    source: str
    target: str | None  # None: nothing will be written (skipped, unfixable)
    role: Role
    strategy: Strategy
    steps: tuple[FixStep, ...] = ()
    warnings: tuple[str, ...] = ()
    reason: str = ""  # why unfixable, or why nothing is done
    start: float = 0.0  # seconds into the source the output starts
    duration: float | None = None  # output length in seconds (None: the whole source)
    video: VideoSpec | None = None
    audio: AudioSpec | None = None
    container: str = "mp4"  # FFmpeg muxer name: mp4 | ipod (m4a) | mp3 | wav | adts
    size_limit: int | None = None  # bytes the output must not exceed
    compress: bool = False  # bitrate chosen to fit ``size_limit`` (may be retried lower)
    audio_source: str | None = None  # a separate audio input to mux (fit-audio pairs)
    commands: tuple[tuple[str, ...], ...] = ()

    @property
    def reencodes(self) -> bool:
        return self.strategy is Strategy.REENCODE or (
            self.strategy is Strategy.AUDIO
            and self.audio is not None
            and self.audio.codec != "copy"
        )

    def with_commands(self, commands: list[list[str]]) -> FixPlan:
        return replace(self, commands=tuple(tuple(c) for c in commands))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "role": self.role,
            "strategy": self.strategy.value,
            "steps": [s.to_dict() for s in self.steps],
            "warnings": list(self.warnings),
            "reason": self.reason,
            "start": self.start,
            "duration": self.duration,
            "video": asdict(self.video) if self.video else None,
            "audio": asdict(self.audio) if self.audio else None,
            "container": self.container,
            "size_limit": self.size_limit,
            "compress": self.compress,
            "commands": [list(c) for c in self.commands],
        }

    @property
    def target_path(self) -> Path | None:
        return None if self.target is None else Path(self.target)
