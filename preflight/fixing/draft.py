"""The output spec while the fixes shape it: what each fix reads (an input) and changes (a draft).

A fix (`preflight.fixing.fixes`) is a pure function ``(finding, draft, input) -> draft``: the
finding is its rule's error on the input (None when the input passes, yet the output must still
keep to the rule's parameters, e.g. a ``--start`` that would leave too short a clip), the input
holds the facts, profile and options that never change while planning, and the draft is the
output as decided so far. The planner threads one draft through every registered fix, in the
registry's order, and turns the result into a `FixPlan`.

Drafts are frozen: a fix returns ``dataclasses.replace(draft, ...)``, so each change is a value
a table-driven test can compare.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from preflight.fixing.geometry import Geometry
from preflight.fixing.plan import FixOptions, FixStep
from preflight.model.facts import AudioStream, MediaFacts, VideoStream
from preflight.model.findings import Finding
from preflight.model.profile import Profile

__all__ = [
    "AudioDraft",
    "AudioInput",
    "Capabilities",
    "Unfixable",
    "VideoDraft",
    "VideoInput",
    "frame_rate",
    "limit",
    "rate_text",
    "seconds",
    "video_window",
]


class Unfixable(Exception):
    """Raised by a fix when no output can pass; the planner returns an unfixable plan saying why."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What this FFmpeg build can do that the plan depends on."""

    tonemap: bool = True  # zscale + tonemap filters present


def seconds(value: float) -> str:
    """``2.5`` -> ``"2.5 s"`` (millisecond precision, no trailing zeros)."""
    return f"{value:.3f}".rstrip("0").rstrip(".") + " s"


def frame_rate(facts: MediaFacts) -> Fraction:
    """The source's frame rate as an exact fraction; NTSC rates snap to n*1000/1001."""
    rate = facts.video.frame_rate if facts.video is not None else None
    if not rate or rate <= 0 or rate > 240:
        return Fraction(25)
    for base in (24, 30, 48, 60, 120):
        ntsc = Fraction(base * 1000, 1001)
        if abs(rate - float(ntsc)) < 0.005:
            return ntsc
    return Fraction(round(rate, 3)).limit_denominator(1001)


def rate_text(rate: Fraction) -> str:
    """A frame rate as FFmpeg reads it: ``25`` or ``30000/1001``."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def limit(profile: Profile, rule: str, key: str) -> Any:
    """The profile's ``key`` for ``rule``; None when the rule is off (then it limits nothing)."""
    return profile.param(rule, key, None) if profile.enabled(rule) else None


@dataclass(frozen=True, slots=True)
class VideoInput:
    """What the video fixes read: the input as probed, the profile, the user's options."""

    facts: MediaFacts
    stream: VideoStream
    profile: Profile
    options: FixOptions
    findings: Mapping[str, Finding]  # the input's error findings the fixer answers, by rule
    duration: float  # the source's effective duration, seconds
    rate: Fraction  # the output's constant frame rate
    capabilities: Capabilities = Capabilities()

    def limit(self, rule: str, key: str) -> Any:
        return limit(self.profile, rule, key)

    def failing(self, rule: str) -> bool:
        return rule in self.findings


@dataclass(frozen=True, slots=True)
class VideoDraft:
    """The video output as the fixes have shaped it so far.

    ``steps`` and ``warnings`` describe a re-encode; a plan that ends as a remux (no fix asked for
    a re-encode) writes its own. ``window_step`` and ``rate_step`` are single slots: a later fix
    that moves the window (or the bit rate) replaces the earlier sentence rather than adding one.
    """

    start: float  # seconds into the source the output starts
    length: float  # seconds of source in the asked window
    have: int  # whole frames in the asked window
    rate: Fraction  # the output's constant frame rate
    container: str = "mp4"  # "mp4" | "mov": the muxer
    frames: int | None = None  # exact frames written (trim/extend); None: the whole window
    extend_by: float = 0.0  # seconds added by freezing or looping
    trimmed: bool = False  # the output cuts the source (asked, or forced by a maximum)
    capped: bool = False  # trimmed to a maximum duration: nothing may lengthen it again
    fit_audio: bool = False  # the embedded audio is padded to the video's length
    reencode: bool = False  # some fix needs the video re-encoded
    geometry: Geometry | None = None  # the output frame (None until the frame fix has run)
    audio_bitrate: int = 128_000
    bitrate: int | None = None  # video target (tight) or cap (with CRF)
    tight: bool = False  # a bit-rate target, not a CRF encode
    buffer: float = 2.0  # rate-control buffer, seconds at ``bitrate`` (small: a hard ceiling)
    compress: bool = False
    size_limit: int | None = None
    window_step: FixStep | None = None
    rate_step: FixStep | None = None
    rate_warnings: tuple[str, ...] = ()
    steps: tuple[FixStep, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def fps(self) -> float:
        return float(self.rate)

    @property
    def out_duration(self) -> float:
        """Seconds the output lasts: its exact frames, else the rest of the source from start."""
        return self.frames / self.fps if self.frames is not None else self.length

    def step(self, step: FixStep) -> VideoDraft:
        return replace(self, steps=(*self.steps, step))

    def warn(self, warning: str) -> VideoDraft:
        return replace(self, warnings=(*self.warnings, warning))


def video_window(duration: float, options: FixOptions, rate: Fraction) -> VideoDraft:
    """The draft before any fix: the ``--start``/``--end`` window the user asked for."""
    start = max(0.0, options.start or 0.0)
    end = duration if options.end is None else min(options.end, duration)
    if start >= duration:
        raise Unfixable(f"--start {start:g} s is past the end of the clip ({duration:.3f} s)")
    if end <= start:
        raise Unfixable(f"--end {end:g} s is not after --start {start:g} s")
    length = end - start
    fps = float(rate)
    have = max(1, math.floor(length * fps + 1e-6))
    draft = VideoDraft(start=start, length=length, have=have, rate=rate)
    if options.start is None and options.end is None:
        return draft
    keep = FixStep(
        "trim",
        f"keep {seconds(start)}-{seconds(start + have / fps)} as asked",
        None,
        {"start": start, "frames": have},
    )
    return replace(draft, frames=have, trimmed=True, window_step=keep)


@dataclass(frozen=True, slots=True)
class AudioInput:
    """What the audio fixes read (an audio input for audio2video)."""

    facts: MediaFacts
    stream: AudioStream
    profile: Profile
    options: FixOptions
    findings: Mapping[str, Finding]
    duration: float  # the audio stream's duration (else the container's), seconds
    output: str | None = None  # the name the user asked for; its suffix is the format
    source_format: str = ""  # mp3 | wav | aac | m4a | "" (none of those)

    def limit(self, rule: str, key: str) -> Any:
        return limit(self.profile, rule, key)

    def failing(self, rule: str) -> bool:
        return rule in self.findings


@dataclass(frozen=True, slots=True)
class AudioDraft:
    """The audio output as the fixes have shaped it so far."""

    start: float
    length: float  # seconds of source in the asked window
    out_duration: float
    pad_to: float | None = None  # pad with silence to this many seconds
    suffix: str = ".m4a"
    muxer: str = "ipod"
    codec: str = "aac"
    bitrate: int | None = None  # None: PCM (no bit rate to choose)
    sample_rate: int = 48000
    channels: int = 2
    compress: bool = False
    size_limit: int | None = None
    steps: tuple[FixStep, ...] = ()
    warnings: tuple[str, ...] = ()

    def step(self, step: FixStep) -> AudioDraft:
        return replace(self, steps=(*self.steps, step))

    def warn(self, warning: str) -> AudioDraft:
        return replace(self, warnings=(*self.warnings, warning))
