"""Findings + facts + profile -> the cheapest `FixPlan` that satisfies every error-level rule.

Pure: no I/O, no FFmpeg. The order of preference:

1. nothing to do (no error finding): copy byte for byte, or skip;
2. remux (``-c copy``, ``+faststart``) when only the container is wrong and the codecs are ones
   the profile's ``video.codec`` keeps (H.264/HEVC) with AAC/MP3 audio; other audio (PCM) is
   re-encoded alone;
3. otherwise one re-encode pass that makes every change at once (trim or extend, frame rate,
   tone-map, scale, pad or crop, bit rate), H.264 High yuv420p 8-bit + AAC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from preflight.fixing.geometry import fit_window
from preflight.fixing.plan import AudioSpec, FixOptions, FixPlan, FixStep, Role, Strategy, VideoSpec
from preflight.model.facts import MediaFacts, VideoStream
from preflight.model.findings import Finding, Severity
from preflight.model.profile import Profile

__all__ = ["Capabilities", "plan", "relevant"]

KEEP_AUDIO = frozenset({"aac", "mp3"})  # audio codecs an MP4 keeps without re-encoding
DEFAULT_KEEP_VIDEO = ("h264", "hevc")
KNOWN_VIDEO_RULES = frozenset(
    {
        "video.container",
        "video.stream",
        "video.duration",
        "video.width",
        "video.height",
        "video.size",
        "video.codec",
    }
)
SIZE_SAFETY = 0.95  # aim this far under a byte limit
CONTAINER_OVERHEAD = 0.01  # MP4 boxes + interleaving, as a share of the file
CONTAINER_OVERHEAD_BYTES = 64_000
MIN_VIDEO_BITRATE = 150_000
CRF_BITS_PER_PIXEL = 0.1
FIT_TOLERANCE = 0.05  # seconds two lengths may differ and still count as fitted
UNCAPPED_BITRATE = 60_000_000  # above this a CRF encode of <=1920 px never needs a cap
AUDIO_BITRATES = (128_000, 96_000, 64_000, 48_000, 32_000)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What this FFmpeg build can do that the plan depends on."""

    tonemap: bool = True  # zscale + tonemap filters present


def relevant(rule: str, role: str) -> bool:
    """Whether a finding's rule is one the fixer answers for a ``role`` input."""
    if rule.startswith("input."):
        return True
    if role == "video":
        return rule.startswith("video.")
    return rule.startswith("audio.")


def _limit(profile: Profile, rule: str, key: str) -> Any:
    return profile.param(rule, key, None) if profile.enabled(rule) else None


def _frame_rate(facts: MediaFacts) -> Fraction:
    """The source's frame rate as an exact fraction; NTSC rates snap to n*1000/1001."""
    rate = facts.video.frame_rate if facts.video is not None else None
    if not rate or rate <= 0 or rate > 240:
        return Fraction(25)
    for base in (24, 30, 48, 60, 120):
        ntsc = Fraction(base * 1000, 1001)
        if abs(rate - float(ntsc)) < 0.005:
            return ntsc
    return Fraction(round(rate, 3)).limit_denominator(1001)


def _rate_text(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") + " s"


def scale_flags(video: VideoStream | None, width: int, height: int) -> str:
    """The swscale filter for scaling ``video``'s frames to ``width`` x ``height``.

    Shrinking both sides: ``area`` (each output pixel averages the source pixels it covers: no
    aliasing, and cheaper; on the 4K -> 1080p benchmark it scored the best SSIM against the
    source). Anything else (growing, or an anamorphic frame growing on one side): ``lanczos``.
    FFmpeg turns rotated frames upright before the filters, so the frame size is the coded size
    with sides swapped for 90/270 degrees.
    """
    if video is None or video.coded_width is None or video.coded_height is None:
        return "lanczos"
    frame_w, frame_h = video.coded_width, video.coded_height
    if video.rotation in (90, 270):
        frame_w, frame_h = frame_h, frame_w
    if width <= frame_w and height <= frame_h and (width, height) != (frame_w, frame_h):
        return "area"
    return "lanczos"


def default_target(source: str, suffix: str, *, out_dir: str | None) -> str:
    path = Path(source)
    if out_dir is not None:
        return str(Path(out_dir) / f"{path.stem}{suffix}")
    return str(path.with_name(f"{path.stem}.fixed{suffix}"))


def plan(
    facts: MediaFacts | None,
    findings: Sequence[Finding],
    profile: Profile,
    options: FixOptions | None = None,
    *,
    source: str | None = None,
    output: str | None = None,
    out_dir: str | None = None,
    capabilities: Capabilities | None = None,
) -> FixPlan:
    """The cheapest plan that makes ``facts`` pass ``profile``'s error-level rules."""
    options = options or FixOptions()
    capabilities = capabilities or Capabilities()
    name = source or (facts.source if facts else "?")
    role: Role = options.role or (
        "audio" if facts is not None and facts.video is None and facts.audio else "video"
    )
    errors = [f for f in findings if f.severity is Severity.ERROR and relevant(f.rule, role)]
    blocking = [f for f in errors if f.rule in ("input.readable", "video.stream")]
    if facts is None or blocking:
        reason = "; ".join(f.message for f in blocking) or "the input could not be read"
        return FixPlan(
            source=name, target=None, role="video", strategy=Strategy.UNFIXABLE, reason=reason
        )
    if role == "video" and output is not None:
        accepted = tuple(profile.param("video.container", "extensions", ("mp4", "mov")))
        suffix = Path(output).suffix.lower().lstrip(".")
        if suffix not in accepted or suffix not in ("mp4", "mov"):
            return _unfixable(name, f"cannot write .{suffix or '(none)'}: name the output .mp4")
    if role == "audio":
        return _plan_audio(facts, errors, profile, options, name, output, out_dir)
    return _plan_video(facts, errors, profile, options, name, output, out_dir, capabilities)


def _nothing(name: str, output: str | None, role: Role) -> FixPlan:
    reason = "already passes the profile"
    if output is None:
        return FixPlan(
            source=name,
            target=None,
            role=role,
            strategy=Strategy.NONE,
            reason=f"{reason}: nothing written",
        )
    step = FixStep("copy", f"{reason}: copied byte for byte")
    return FixPlan(
        source=name,
        target=output,
        role=role,
        strategy=Strategy.NONE,
        steps=(step,),
        reason=reason,
    )


def _window(
    available: float,
    options: FixOptions,
    dmin: float | None,
    dmax: float | None,
    rate: Fraction,
    steps: list[FixStep],
    warnings: list[str],
) -> tuple[float, int | None, float, bool]:
    """(start, frames, extend_by, trimmed) for the requested window and the duration limits."""
    start = max(0.0, options.start or 0.0)
    end = available if options.end is None else min(options.end, available)
    if start >= available:
        raise _Unfixable(f"--start {start:g} s is past the end of the clip ({available:.3f} s)")
    if end <= start:
        raise _Unfixable(f"--end {end:g} s is not after --start {start:g} s")
    length = end - start
    fps = float(rate)
    have = max(1, math.floor(length * fps + 1e-6))
    frames: int | None = None
    extend_by = 0.0
    trimmed = options.start is not None or options.end is not None
    if dmax is not None and length > dmax + 1e-9:
        frames = min(have, math.ceil(dmax * fps - 1e-9) - 1)
        kept = frames / fps
        where = f"from {_seconds(start)}" if start else "from the start"
        steps.append(
            FixStep(
                "trim",
                f"trim to {_seconds(kept)} ({frames} frames {where}), one frame "
                f"inside the {_seconds(dmax)} limit",
                "video.duration",
                {"start": start, "duration": kept, "frames": frames},
            )
        )
        if options.end is not None and options.end - start > dmax:
            warnings.append(
                f"the window --start/--end is {_seconds(options.end - start)}, longer "
                f"than {_seconds(dmax)}: only its first {_seconds(kept)} are kept"
            )
        trimmed = True
    elif (dmin is not None and length < dmin - 1e-9) or (
        options.min_duration is not None and length < options.min_duration - FIT_TOLERANCE
    ):
        floor = max(dmin or 0.0, options.min_duration or 0.0)
        frames = math.floor(floor * fps + 1e-9) + 1
        if dmax is not None:
            frames = min(frames, math.ceil(dmax * fps - 1e-9) - 1)
        extend_by = frames / fps - have / fps
        how = "freezing the last frame" if options.extend == "freeze" else "looping the clip"
        if dmin is not None and length < dmin - 1e-9:
            why, rule = f"one frame past the {_seconds(dmin)} minimum", "video.duration"
        else:
            why, rule = "to match the audio", "job.av_duration"
        steps.append(
            FixStep(
                "extend",
                f"extend {_seconds(length)} to {_seconds(frames / fps)} by "
                f"{how} (audio padded with silence), {why}",
                rule,
                {"mode": options.extend, "duration": frames / fps},
            )
        )
    elif trimmed:
        frames = have
        steps.append(
            FixStep(
                "trim",
                f"keep {_seconds(start)}-{_seconds(start + frames / fps)} as asked",
                None,
                {"start": start, "frames": frames},
            )
        )
    return start, frames, extend_by, trimmed


class _Unfixable(Exception):
    pass


def _plan_video(
    facts: MediaFacts,
    errors: list[Finding],
    profile: Profile,
    options: FixOptions,
    name: str,
    output: str | None,
    out_dir: str | None,
    capabilities: Capabilities,
) -> FixPlan:
    stream = facts.video
    assert stream is not None
    failing = {f.rule for f in errors}
    fit_audio = options.fit_audio and facts.audio is not None and _audio_gap(facts) > 0.05
    longer = options.min_duration is not None and (
        (facts.effective_duration or 0.0) < options.min_duration - FIT_TOLERANCE
    )
    asked = options.start is not None or options.end is not None or fit_audio or longer
    if not failing and not asked:
        return _nothing(name, output, "video")
    suffix = Path(output).suffix.lower() if output else ".mp4"
    container = "mov" if suffix == ".mov" else "mp4"
    target = output or default_target(name, ".mp4", out_dir=out_dir)
    steps: list[FixStep] = []
    warnings: list[str] = []

    keep_video = tuple(profile.param("video.codec", "allowed", DEFAULT_KEEP_VIDEO))
    dmin = _limit(profile, "video.duration", "min")
    dmax = _limit(profile, "video.duration", "max")
    size_limit = _limit(profile, "video.size", "max_bytes")
    duration = facts.effective_duration
    if duration is None or stream.width is None or stream.height is None:
        return _unfixable(name, "the video's duration or size is unknown")
    rate = _frame_rate(facts)
    try:
        start, frames, extend_by, trimmed = _window(
            duration, options, dmin, dmax, rate, steps, warnings
        )
    except _Unfixable as exc:
        return _unfixable(name, str(exc))
    out_duration = frames / float(rate) if frames is not None else duration - start

    geometry = fit_window(
        stream.width,
        stream.height,
        min_width=_limit(profile, "video.width", "min"),
        max_width=_limit(profile, "video.width", "max"),
        min_height=_limit(profile, "video.height", "min"),
        max_height=_limit(profile, "video.height", "max"),
        aspect=options.aspect,
        square_pixels=stream.sample_aspect_ratio in ("1:1", "0:1", ""),
    )
    geometry_moves = geometry.fit != "none" and bool(failing & {"video.width", "video.height"})
    codec_ok = stream.codec in keep_video
    unknown = sorted(r for r in failing if r.startswith("video.") and r not in KNOWN_VIDEO_RULES)
    source_rate = _video_bitrate(facts)
    predicted = (facts.size_bytes * out_duration / duration) if duration else facts.size_bytes
    over_size = size_limit is not None and predicted > size_limit

    reencode = bool(
        frames is not None or geometry_moves or not codec_ok or over_size or unknown or trimmed
    )
    if failing & {"video.codec"} and not codec_ok:
        steps.append(
            FixStep("transcode-video", f"re-encode {stream.codec} as H.264", "video.codec")
        )
    if unknown:
        steps.append(
            FixStep(
                "transcode-video",
                "re-encode to H.264 High yuv420p 8-bit for " + ", ".join(unknown),
                unknown[0],
            )
        )

    if not reencode:
        return _plan_remux(
            facts, failing, name, target, container, steps, warnings, fit_audio, duration
        )

    if not codec_ok and "video.codec" not in failing:
        steps.append(
            FixStep(
                "transcode-video",
                f"re-encode {stream.codec} as H.264 (the profile "
                f"keeps only {', '.join(keep_video)} without re-encoding)",
                "video.container" if "video.container" in failing else None,
            )
        )
    if "video.container" in failing:
        steps.append(
            FixStep(
                "remux", f"write {container.upper()} (was {facts.container})", "video.container"
            )
        )
    if geometry.fit != "none":
        rule = (
            "video.width"
            if "video.width" in failing
            else ("video.height" if "video.height" in failing else None)
        )
        shown = f"{stream.width}x{stream.height}"
        notes = []
        if stream.rotation:
            notes.append(f"rotated {stream.rotation}°")
        if stream.sample_aspect_ratio not in ("1:1", "0:1", ""):
            notes.append(f"pixel aspect {stream.sample_aspect_ratio}")
        shown += f" ({', '.join(notes)})" if notes else ""
        if geometry.fit == "scale":
            steps.append(
                FixStep(
                    "scale",
                    f"scale {shown} to {geometry.width}x{geometry.height} "
                    "(display size, aspect kept, even sides)",
                    rule,
                )
            )
        else:
            what = "pad" if geometry.fit == "pad" else "crop"
            how = "black bars, centred" if what == "pad" else "centred"
            steps.append(
                FixStep(
                    "scale",
                    f"scale {shown} to {geometry.scaled_width}x{geometry.scaled_height}",
                    rule,
                )
            )
            steps.append(
                FixStep(
                    what,
                    f"no single scale fits {stream.width}:{stream.height} in the "
                    f"window: {what} to {geometry.width}x{geometry.height} ({how})",
                    rule,
                    {"aspect": options.aspect},
                )
            )
        if geometry.upscaled:
            warnings.append(
                f"upscaled {geometry.factor:.2f}x from {stream.width}x{stream.height}: "
                "detail cannot be added, the picture will look soft"
            )
    tonemap = stream.hdr and capabilities.tonemap
    to_8bit = (stream.bit_depth or 8) > 8 or stream.hdr
    if stream.hdr and not capabilities.tonemap:
        warnings.append(
            "HDR input but this FFmpeg build lacks zscale/tonemap: converted to 8-bit "
            "without tone-mapping, colours will look washed out"
        )
    if tonemap:
        steps.append(
            FixStep("tonemap", f"tone-map HDR ({stream.color_transfer}) to SDR BT.709 8-bit")
        )
    elif to_8bit:
        steps.append(FixStep("transcode-video", f"convert {stream.bit_depth}-bit to 8-bit yuv420p"))
    if stream.variable_frame_rate:
        steps.append(
            FixStep("frame-rate", f"variable frame rate to constant {_rate_text(rate)} fps")
        )

    audio = None
    audio_bitrate = options.audio_bitrate
    if facts.audio is not None:
        audio_bitrate = (
            min(audio_bitrate, facts.audio.bit_rate or audio_bitrate)
            if (facts.audio.codec in KEEP_AUDIO)
            else audio_bitrate
        )
        audio_bitrate = max(audio_bitrate, 32_000)
    budget = _video_budget(size_limit, out_duration, audio_bitrate if facts.audio else 0)
    compress = False
    tight = False
    bitrate = budget
    if over_size and size_limit is not None:
        if budget is None or budget < MIN_VIDEO_BITRATE:
            for lower in AUDIO_BITRATES:
                if facts.audio is None or lower >= audio_bitrate:
                    continue
                audio_bitrate = lower
                budget = _video_budget(size_limit, out_duration, audio_bitrate)
                if budget is not None and budget >= MIN_VIDEO_BITRATE:
                    break
        if budget is None or budget <= 0:
            return _unfixable(name, f"{_seconds(out_duration)} cannot fit in {size_limit} bytes")
        bitrate = min(budget, source_rate) if source_rate else budget
        compress = True
        # A budget well above what CRF would spend anyway only caps CRF (the file comes out
        # smaller, at CRF quality); a tight one is the target of a bit-rate encode.
        tight = bitrate < 1.5 * _crf_estimate(geometry.width, geometry.height, float(rate))
        how = (
            f"video at {bitrate // 1000} kb/s"
            if tight
            else f"CRF {options.crf} with the video capped at {bitrate // 1000} kb/s"
        )
        steps.append(
            FixStep(
                "compress",
                f"compress to fit {size_limit:,} bytes: {how} (audio {audio_bitrate // 1000} "
                "kb/s), re-measured and retried at a lower bit rate if still over",
                "video.size",
                {"video_bitrate": bitrate, "audio_bitrate": audio_bitrate},
            )
        )
        if budget < MIN_VIDEO_BITRATE:
            warnings.append(f"only {budget // 1000} kb/s left for video: expect visible blocking")
    if facts.audio is not None:
        audio = AudioSpec(
            codec="aac",
            bitrate=audio_bitrate,
            sample_rate=facts.audio.sample_rate
            if facts.audio.sample_rate in (44100, 48000)
            else 48000,
            channels=min(facts.audio.channels or 2, 2),
            pad_to=out_duration,
        )
        if facts.audio.codec != "aac":
            steps.append(FixStep("transcode-audio", f"re-encode {facts.audio.codec} audio as AAC"))
    video = VideoSpec(
        codec="libx264",
        width=geometry.width,
        height=geometry.height,
        fit=geometry.fit,
        scaled_width=geometry.scaled_width,
        scaled_height=geometry.scaled_height,
        scale_flags=scale_flags(facts.video, geometry.scaled_width, geometry.scaled_height),
        frame_rate=_rate_text(rate),
        frames=frames or _frames_of(out_duration, rate),
        tonemap=tonemap,
        to_8bit=to_8bit,
        extend=options.extend if extend_by > 0 else None,
        extend_by=extend_by,
        crf=None if tight else options.crf,
        bitrate=bitrate,
        preset=options.preset,
    )
    if not compress and bitrate is not None and bitrate > UNCAPPED_BITRATE:
        bitrate = None  # a cap this high never binds: leave it out of the command
    rate_text = f"CRF {options.crf}"
    if bitrate:
        rate_text += f" capped at {bitrate // 1000} kb/s"
    if tight and bitrate:
        rate_text = f"{bitrate // 1000} kb/s"
    steps.append(
        FixStep(
            "transcode-video",
            f"one pass: H.264 High yuv420p 8-bit, {rate_text}, preset {options.preset}, +faststart",
        )
    )
    return FixPlan(
        source=name,
        target=target,
        role="video",
        strategy=Strategy.REENCODE,
        steps=tuple(steps),
        warnings=tuple(warnings),
        start=start,
        duration=video.frames / float(rate) if video.frames else out_duration,
        video=video,
        audio=audio,
        container=container,
        size_limit=size_limit,
        compress=compress,
    )


def _frames_of(duration: float, rate: Fraction) -> int:
    return max(1, math.floor(duration * float(rate) + 1e-6))


def _audio_gap(facts: MediaFacts) -> float:
    if facts.audio is None or facts.audio.duration is None or facts.effective_duration is None:
        return 0.0
    return abs(facts.audio.duration - facts.effective_duration)


def _plan_remux(
    facts: MediaFacts,
    failing: set[str],
    name: str,
    target: str,
    container: str,
    steps: list[FixStep],
    warnings: list[str],
    fit_audio: bool,
    duration: float,
) -> FixPlan:
    stream = facts.video
    assert stream is not None
    steps.append(
        FixStep(
            "remux",
            f"copy the {stream.codec} video into {container.upper()} without "
            f"re-encoding (was {facts.container}), +faststart",
            "video.container" if "video.container" in failing else None,
        )
    )
    audio: AudioSpec | None = None
    if facts.audio is not None:
        if facts.audio.codec in KEEP_AUDIO and not fit_audio:
            audio = AudioSpec(codec="copy")
        else:
            audio = AudioSpec(
                codec="aac",
                bitrate=128_000,
                sample_rate=facts.audio.sample_rate
                if facts.audio.sample_rate in (44100, 48000)
                else 48000,
                channels=min(facts.audio.channels or 2, 2),
                pad_to=duration if fit_audio else None,
            )
            why = f"{facts.audio.codec} cannot go into {container.upper()} as it is"
            if fit_audio:
                why = f"fit the audio ({_seconds(facts.audio.duration or 0)}) to the video"
            steps.append(
                FixStep(
                    "fit-audio" if fit_audio else "transcode-audio",
                    f"re-encode the audio alone as AAC: {why}",
                )
            )
    video = VideoSpec(
        codec="copy", width=stream.width, height=stream.height, hevc_tag=stream.codec == "hevc"
    )
    return FixPlan(
        source=name,
        target=target,
        role="video",
        strategy=Strategy.REMUX,
        steps=tuple(steps),
        warnings=tuple(warnings),
        video=video,
        audio=audio,
        container=container,
        duration=duration if fit_audio else None,
    )


def _crf_estimate(width: int, height: int, fps: float) -> float:
    """Roughly what a CRF ~20 H.264 encode spends, bits/s (0.1 bit per pixel per frame)."""
    return CRF_BITS_PER_PIXEL * width * height * fps


def _video_bitrate(facts: MediaFacts) -> int | None:
    if facts.video is not None and facts.video.bit_rate:
        return facts.video.bit_rate
    duration = facts.effective_duration
    if not duration:
        return None
    total = facts.size_bytes * 8 / duration
    audio = facts.audio.bit_rate if facts.audio is not None and facts.audio.bit_rate else 0
    return max(1, int(total - audio))


def _video_budget(limit: int | None, duration: float, audio_bitrate: int) -> int | None:
    """Bits per second left for video in ``limit`` bytes over ``duration`` seconds."""
    if limit is None or duration <= 0:
        return None
    usable = limit * SIZE_SAFETY * (1 - CONTAINER_OVERHEAD) - CONTAINER_OVERHEAD_BYTES
    return int(usable * 8 / duration - audio_bitrate)


def _unfixable(name: str, reason: str) -> FixPlan:
    return FixPlan(
        source=name, target=None, role="video", strategy=Strategy.UNFIXABLE, reason=reason
    )


AUDIO_CONTAINERS = {
    ".m4a": ("ipod", "aac"),
    ".mp3": ("mp3", "libmp3lame"),
    ".wav": ("wav", "pcm_s16le"),
    ".aac": ("adts", "aac"),
}
_FORMAT_SUFFIX = {"mp3": ".mp3", "wav": ".wav", "m4a": ".m4a", "aac": ".aac"}


def _plan_audio(
    facts: MediaFacts,
    errors: list[Finding],
    profile: Profile,
    options: FixOptions,
    name: str,
    output: str | None,
    out_dir: str | None,
) -> FixPlan:
    stream = facts.audio
    assert stream is not None
    failing = {f.rule for f in errors}
    own = stream.duration if stream.duration is not None else facts.duration
    refit = options.fit_to is not None and own is not None and abs(own - options.fit_to) > 0.05
    if not failing and options.start is None and options.end is None and not refit:
        return _nothing(name, output, "audio")
    allowed = tuple(profile.param("audio.format", "allowed", ("mp3", "wav", "m4a", "aac")))
    amin = _limit(profile, "audio.duration", "min")
    amax = _limit(profile, "audio.duration", "max")
    size_limit = _limit(profile, "audio.size", "max_bytes")
    duration = stream.duration if stream.duration is not None else facts.duration
    if duration is None:
        return _unfixable(name, "the audio's duration is unknown")
    steps: list[FixStep] = []
    warnings: list[str] = []
    start = max(0.0, options.start or 0.0)
    end = duration if options.end is None else min(options.end, duration)
    if end <= start:
        return _unfixable(name, f"nothing left between {start:g} s and {end:g} s")
    length = end - start
    out_duration = length
    pad_to = None
    if options.fit_to is not None:
        target = min(max(options.fit_to, amin or 0.0), amax if amax is not None else options.fit_to)
        if length > target + 0.05:
            out_duration = target
            steps.append(
                FixStep(
                    "fit-audio",
                    f"trim the audio from {_seconds(length)} to "
                    f"{_seconds(target)} to match the video",
                    "job.av_duration",
                )
            )
        elif length < target - 0.05:
            out_duration = pad_to = target
            steps.append(
                FixStep(
                    "fit-audio",
                    f"pad the audio from {_seconds(length)} to "
                    f"{_seconds(target)} with silence to match the video",
                    "job.av_duration",
                )
            )
    elif amax is not None and length > amax:
        out_duration = max(amax - 0.1, (amin or 0) + 0.1)
        steps.append(
            FixStep(
                "trim",
                f"trim the audio to {_seconds(out_duration)} (limit {_seconds(amax)})",
                "audio.duration",
            )
        )
    elif amin is not None and length < amin:
        out_duration = amin + 0.1
        pad_to = out_duration
        steps.append(
            FixStep(
                "extend",
                f"pad the audio with silence to {_seconds(out_duration)} "
                f"(minimum {_seconds(amin)})",
                "audio.duration",
            )
        )

    # the output format: the user's suffix, else the source's own format if accepted, else m4a
    source_format = {"mp3": "mp3", "wav": "wav", "adts": "aac"}.get(facts.container or "", "")
    if facts.container in ("mp4", "mov") and stream.codec == "aac":
        source_format = "m4a"
    if output is not None:
        suffix = Path(output).suffix.lower()
        if suffix not in AUDIO_CONTAINERS or suffix.lstrip(".") not in allowed:
            return _unfixable(
                name,
                f"cannot write {suffix or 'no extension'}: the profile "
                f"accepts {', '.join(allowed)}",
            )
    elif source_format in allowed:
        suffix = _FORMAT_SUFFIX[source_format]
    else:
        suffix = ".m4a" if "m4a" in allowed else _FORMAT_SUFFIX[allowed[0]]
    channels = min(stream.channels or 2, 2)
    sample_rate = (
        stream.sample_rate if stream.sample_rate in (44100, 48000, 22050, 16000) else 48000
    )
    pcm_bytes = out_duration * sample_rate * channels * 2 + 1000
    if output is None and suffix == ".wav" and size_limit is not None and pcm_bytes > size_limit:
        suffix = ".m4a" if "m4a" in allowed else ".mp3"
        warnings.append(
            f"{_seconds(out_duration)} of WAV would be {int(pcm_bytes):,} bytes, over "
            f"{size_limit:,}: written as {suffix} instead"
        )
    muxer, codec = AUDIO_CONTAINERS[suffix]

    bitrate: int | None = min(options.audio_bitrate, stream.bit_rate or options.audio_bitrate)
    if stream.codec in ("pcm_s16le", "pcm_s24le", "flac", "pcm_f32le", "alac"):
        bitrate = options.audio_bitrate
    channels = min(stream.channels or 2, 2)
    sample_rate = (
        stream.sample_rate if stream.sample_rate in (44100, 48000, 22050, 16000) else 48000
    )
    if codec == "pcm_s16le":
        bitrate = None
        pcm_bytes = out_duration * (sample_rate or 48000) * channels * 2 + 1000
        if size_limit is not None and pcm_bytes > size_limit:
            return _unfixable(
                name,
                f"{_seconds(out_duration)} of WAV is {int(pcm_bytes):,} bytes, "
                f"over {size_limit:,}: write .m4a or .mp3 instead",
            )
    compress = False
    if size_limit is not None and bitrate is not None:
        budget = int((size_limit * SIZE_SAFETY - 16_000) * 8 / out_duration)
        if budget < bitrate or "audio.size" in failing:
            bitrate = min(bitrate, budget)
            compress = True
            steps.append(
                FixStep(
                    "compress",
                    f"lower the bit rate to {bitrate // 1000} kb/s to fit {size_limit:,} bytes",
                    "audio.size",
                )
            )
            if bitrate < 32_000:
                warnings.append(f"only {bitrate // 1000} kb/s fit: speech will sound muffled")
            if bitrate < 8_000:
                return _unfixable(
                    name, f"{_seconds(out_duration)} of audio cannot fit in {size_limit:,} bytes"
                )
    fmt_now = source_format or facts.container or "?"
    same = suffix.lstrip(".") == source_format and not steps
    target = output or default_target(name, suffix, out_dir=out_dir)
    if same:
        steps.append(
            FixStep(
                "remux",
                f"copy the {stream.codec} audio into a .{source_format} file without re-encoding",
                "audio.format",
            )
        )
        spec = AudioSpec(codec="copy")
    else:
        if fmt_now != suffix.lstrip("."):
            steps.append(
                FixStep(
                    "convert-audio",
                    f"convert {fmt_now} ({stream.codec}) to {suffix.lstrip('.')}",
                    "audio.format" if "audio.format" in failing else None,
                )
            )
        spec = AudioSpec(
            codec=codec, bitrate=bitrate, sample_rate=sample_rate, channels=channels, pad_to=pad_to
        )
    return FixPlan(
        source=name,
        target=target,
        role="audio",
        strategy=Strategy.AUDIO,
        steps=tuple(steps),
        warnings=tuple(warnings),
        start=start,
        duration=None if same else out_duration,
        audio=spec,
        container=muxer,
        size_limit=size_limit,
        compress=compress,
    )
