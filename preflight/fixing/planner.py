"""Findings + facts + profile -> the cheapest `FixPlan` that satisfies every error-level rule.

Pure: no I/O, no FFmpeg. The planner knows no rule: each fixable rule registers a fix
(`preflight.fixing.registry`) that turns its finding into a change of the output draft; the
planner runs a role's fixes in the registry's order, then picks the cheapest strategy the
composed draft allows:

1. nothing to do (no error finding): copy byte for byte, or skip;
2. remux (``-c copy``, ``+faststart``) when no fix asked for a re-encode (only the container or
   the name is wrong and the codecs are ones the profile's ``video.codec`` keeps) with AAC/MP3
   audio; other audio (PCM) is re-encoded alone;
3. otherwise one re-encode pass that makes every change at once (trim or extend, frame rate,
   tone-map, scale, pad or crop, bit rate), H.264 High yuv420p 8-bit + AAC.

A finding that cannot be fixed (``fixable`` false: no picture, an unreadable input) makes the
plan unfixable with its message; one that claims to be fixable with no registered fix raises
`UnknownFixError`: a programming error, caught by the registry's own test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

from preflight.fixing import registry
from preflight.fixing.draft import (
    AudioDraft,
    AudioInput,
    Capabilities,
    Unfixable,
    VideoDraft,
    VideoInput,
    frame_rate,
    rate_text,
    seconds,
    video_window,
)
from preflight.fixing.plan import AudioSpec, FixOptions, FixPlan, FixStep, Role, Strategy, VideoSpec
from preflight.fixing.video_fixes import FIT_TOLERANCE, SIZE_SAFETY, audio_gap
from preflight.model.facts import MediaFacts, VideoStream
from preflight.model.findings import Finding, Severity
from preflight.model.profile import Profile

__all__ = ["SIZE_SAFETY", "Capabilities", "default_target", "plan", "relevant", "scale_flags"]

KEEP_AUDIO = frozenset({"aac", "mp3"})  # audio codecs an MP4 keeps without re-encoding
UNCAPPED_BITRATE = 60_000_000  # above this a CRF encode of <=1920 px never needs a cap
MIN_AUDIO_BITRATE = 32_000
MP4_SAMPLE_RATES = (44100, 48000)
AUDIO_SAMPLE_RATES = (44100, 48000, 22050, 16000)


def relevant(rule: str, role: str) -> bool:
    """Whether a finding's rule is one the fixer answers for a ``role`` input."""
    if rule.startswith("input."):
        return True
    if role == "video":
        return rule.startswith("video.")
    return rule.startswith("audio.")


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
    name = source or (facts.source if facts else "?")
    role = _role(facts, options)
    failing, blocking = _errors(findings, role)
    if facts is None or blocking:
        reason = "; ".join(f.message for f in blocking) or "the input could not be read"
        return _unfixable(name, reason)
    if role == "audio":
        return _plan_audio(facts, failing, profile, options, name, output, out_dir)
    refused = _refused_name(profile, output)
    if refused:
        return _unfixable(name, refused)
    caps = capabilities or Capabilities()
    return _plan_video(facts, failing, profile, options, name, output, out_dir, caps)


def _errors(findings: Sequence[Finding], role: Role) -> tuple[dict[str, Finding], list[Finding]]:
    """The error findings the fixer answers for ``role``, by rule, and those no fix can answer.

    A finding that says it is fixable but has no registered fix raises `UnknownFixError`.
    """
    failing: dict[str, Finding] = {}
    blocking: list[Finding] = []
    for finding in findings:
        if finding.severity is not Severity.ERROR or not relevant(finding.rule, role):
            continue
        if not finding.fixable:
            blocking.append(finding)
            continue
        registry.get(finding.rule, role)
        failing[finding.rule] = finding
    return failing, blocking


def _role(facts: MediaFacts | None, options: FixOptions) -> Role:
    """The role asked for; else an audio-only file is an audio input, anything else a video."""
    if options.role is not None:
        return options.role
    audio_only = facts is not None and facts.video is None and facts.audio is not None
    return "audio" if audio_only else "video"


def _refused_name(profile: Profile, output: str | None) -> str:
    """Why a video cannot be written under ``output``'s name ("" when it can)."""
    if output is None:
        return ""
    accepted = tuple(profile.param("video.container", "extensions", ("mp4", "mov")))
    suffix = Path(output).suffix.lower().lstrip(".")
    if suffix in accepted and suffix in ("mp4", "mov"):
        return ""
    return f"cannot write .{suffix or '(none)'}: name the output .mp4"


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


def _asked(facts: MediaFacts, options: FixOptions) -> bool:
    """Whether the options ask for a change even of a passing video (a window, a fit to audio)."""
    if options.start is not None or options.end is not None:
        return True
    if options.fit_audio and facts.audio is not None and audio_gap(facts) > FIT_TOLERANCE:
        return True
    wanted = options.min_duration
    return wanted is not None and (facts.effective_duration or 0.0) < wanted - FIT_TOLERANCE


def _plan_video(
    facts: MediaFacts,
    failing: dict[str, Finding],
    profile: Profile,
    options: FixOptions,
    name: str,
    output: str | None,
    out_dir: str | None,
    capabilities: Capabilities,
) -> FixPlan:
    stream = facts.video
    assert stream is not None
    if not failing and not _asked(facts, options):
        return _nothing(name, output, "video")
    duration = facts.effective_duration
    if duration is None or stream.width is None or stream.height is None:
        return _unfixable(name, "the video's duration or size is unknown")
    rate = frame_rate(facts)
    src = VideoInput(facts, stream, profile, options, failing, duration, rate, capabilities)
    container = "mov" if output is not None and Path(output).suffix.lower() == ".mov" else "mp4"
    target = output or default_target(name, ".mp4", out_dir=out_dir)
    try:
        draft = replace(
            video_window(duration, options, rate),
            container=container,
            audio_bitrate=_audio_bitrate(facts, options),
        )
        for rules, fix in registry.steps(registry.VIDEO):
            draft = fix(_first(failing, rules), draft, src)
    except Unfixable as exc:
        return _unfixable(name, str(exc))
    if draft.reencode or draft.frames is not None or draft.trimmed:
        return _plan_reencode(src, draft, name, target)
    return _plan_remux(facts, failing, name, target, container, draft.fit_audio, duration)


def _first(failing: dict[str, Finding], rules: tuple[str, ...]) -> Finding | None:
    """The input's finding for the first of ``rules`` that fails (a fix may answer several)."""
    return next((failing[rule] for rule in rules if rule in failing), None)


def _audio_bitrate(facts: MediaFacts, options: FixOptions) -> int:
    """The AAC rate of a re-encode: the user's, or the source's own when lower (MP3/AAC)."""
    wanted = options.audio_bitrate
    if facts.audio is not None and facts.audio.codec in KEEP_AUDIO:
        wanted = min(wanted, facts.audio.bit_rate or wanted)
    return max(wanted, MIN_AUDIO_BITRATE) if facts.audio is not None else wanted


def _conversions(src: VideoInput, rate: Fraction) -> tuple[list[FixStep], list[str], bool, bool]:
    """What every H.264 High 8-bit re-encode does besides the fixes: (steps, warnings, tonemap,
    to_8bit) for HDR, high bit depth and a variable frame rate."""
    stream, caps = src.stream, src.capabilities
    steps: list[FixStep] = []
    warnings: list[str] = []
    tonemap = stream.hdr and caps.tonemap
    to_8bit = (stream.bit_depth or 8) > 8 or stream.hdr
    if stream.hdr and not caps.tonemap:
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
            FixStep("frame-rate", f"variable frame rate to constant {rate_text(rate)} fps")
        )
    return steps, warnings, tonemap, to_8bit


def _plan_reencode(src: VideoInput, draft: VideoDraft, name: str, target: str) -> FixPlan:
    facts, options, geometry = src.facts, src.options, draft.geometry
    assert geometry is not None
    steps = [s for s in (draft.window_step,) if s is not None] + list(draft.steps)
    extra, warnings, tonemap, to_8bit = _conversions(src, draft.rate)
    steps += extra + [s for s in (draft.rate_step,) if s is not None]
    warnings = list(draft.warnings) + warnings + list(draft.rate_warnings)
    out_duration = draft.out_duration
    audio = None
    if facts.audio is not None:
        audio = AudioSpec(
            codec="aac",
            bitrate=draft.audio_bitrate,
            sample_rate=_pick(facts.audio.sample_rate, MP4_SAMPLE_RATES),
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
        scale_flags=scale_flags(src.stream, geometry.scaled_width, geometry.scaled_height),
        frame_rate=rate_text(draft.rate),
        frames=draft.frames or _frames_of(out_duration, draft.rate),
        tonemap=tonemap,
        to_8bit=to_8bit,
        extend=options.extend if draft.extend_by > 0 else None,
        extend_by=draft.extend_by,
        crf=None if draft.tight else options.crf,
        bitrate=draft.bitrate,
        buffer=draft.buffer,
        preset=options.preset,
    )
    steps.append(FixStep("transcode-video", f"one pass: {_encoding(draft, options)}, +faststart"))
    return FixPlan(
        source=name,
        target=target,
        role="video",
        strategy=Strategy.REENCODE,
        steps=tuple(steps),
        warnings=tuple(warnings),
        start=draft.start,
        duration=video.frames / draft.fps if video.frames else out_duration,
        video=video,
        audio=audio,
        container=draft.container,
        size_limit=draft.size_limit,
        compress=draft.compress,
    )


def _encoding(draft: VideoDraft, options: FixOptions) -> str:
    """The one-pass step's words: codec, rate control and preset."""
    bitrate = draft.bitrate
    if not draft.compress and bitrate is not None and bitrate > UNCAPPED_BITRATE:
        bitrate = None  # a cap this high never binds: it is left out of the words
    rate = f"CRF {options.crf}"
    if bitrate:
        rate += f" capped at {bitrate // 1000} kb/s"
    if draft.tight and bitrate:
        rate = f"{bitrate // 1000} kb/s"
    return f"H.264 High yuv420p 8-bit, {rate}, preset {options.preset}"


def _pick(value: int | None, accepted: tuple[int, ...]) -> int:
    return value if value in accepted else 48000


def _frames_of(duration: float, rate: Fraction) -> int:
    return max(1, math.floor(duration * float(rate) + 1e-6))


def _plan_remux(
    facts: MediaFacts,
    failing: dict[str, Finding],
    name: str,
    target: str,
    container: str,
    fit_audio: bool,
    duration: float,
) -> FixPlan:
    """Copy the video into ``container``; the audio too when an MP4 can carry it as it is."""
    stream = facts.video
    assert stream is not None
    steps = [
        FixStep(
            "remux",
            f"copy the {stream.codec} video into {container.upper()} without "
            f"re-encoding (was {facts.container}), +faststart",
            "video.container" if "video.container" in failing else None,
        )
    ]
    audio: AudioSpec | None = None
    if facts.audio is not None:
        audio = AudioSpec(codec="copy")
        if facts.audio.codec not in KEEP_AUDIO or fit_audio:
            audio, step = _remux_audio(facts, container, fit_audio, duration)
            steps.append(step)
    video = VideoSpec(
        codec="copy", width=stream.width, height=stream.height, hevc_tag=stream.codec == "hevc"
    )
    return FixPlan(
        source=name,
        target=target,
        role="video",
        strategy=Strategy.REMUX,
        steps=tuple(steps),
        video=video,
        audio=audio,
        container=container,
        duration=duration if fit_audio else None,
    )


def _remux_audio(
    facts: MediaFacts, container: str, fit_audio: bool, duration: float
) -> tuple[AudioSpec, FixStep]:
    """The audio of a remux re-encoded alone: PCM and the like, or padded to the video."""
    assert facts.audio is not None
    audio = AudioSpec(
        codec="aac",
        bitrate=128_000,
        sample_rate=_pick(facts.audio.sample_rate, MP4_SAMPLE_RATES),
        channels=min(facts.audio.channels or 2, 2),
        pad_to=duration if fit_audio else None,
    )
    why = f"{facts.audio.codec} cannot go into {container.upper()} as it is"
    if fit_audio:
        why = f"fit the audio ({seconds(facts.audio.duration or 0)}) to the video"
    kind = "fit-audio" if fit_audio else "transcode-audio"
    return audio, FixStep(kind, f"re-encode the audio alone as AAC: {why}")


def _unfixable(name: str, reason: str) -> FixPlan:
    return FixPlan(
        source=name, target=None, role="video", strategy=Strategy.UNFIXABLE, reason=reason
    )


def _plan_audio(
    facts: MediaFacts,
    failing: dict[str, Finding],
    profile: Profile,
    options: FixOptions,
    name: str,
    output: str | None,
    out_dir: str | None,
) -> FixPlan:
    stream = facts.audio
    assert stream is not None  # else audio.format's unfixable "no audio stream" blocked the plan
    duration = stream.duration if stream.duration is not None else facts.duration
    refit = (
        options.fit_to is not None
        and duration is not None
        and abs(duration - options.fit_to) > FIT_TOLERANCE
    )
    if not failing and options.start is None and options.end is None and not refit:
        return _nothing(name, output, "audio")
    if duration is None:
        return _unfixable(name, "the audio's duration is unknown")
    src = AudioInput(
        facts, stream, profile, options, failing, duration, output, _source_format(facts)
    )
    try:
        draft = _audio_window(src)
        for rules, afix in registry.steps(registry.AUDIO):
            draft = afix(_first(failing, rules), draft, src)
    except Unfixable as exc:
        return _unfixable(name, str(exc))
    return _audio_plan(
        src, draft, name, output or default_target(name, draft.suffix, out_dir=out_dir)
    )


def _source_format(facts: MediaFacts) -> str:
    """The provider-style format an audio input already is (``""``: none the fixer writes)."""
    assert facts.audio is not None
    if facts.container in ("mp4", "mov") and facts.audio.codec == "aac":
        return "m4a"
    return {"mp3": "mp3", "wav": "wav", "adts": "aac"}.get(facts.container or "", "")


def _audio_window(src: AudioInput) -> AudioDraft:
    """The draft before any fix: the ``--start``/``--end`` window, mono or stereo, a rate kept."""
    options, stream = src.options, src.stream
    start = max(0.0, options.start or 0.0)
    end = src.duration if options.end is None else min(options.end, src.duration)
    if end <= start:
        raise Unfixable(f"nothing left between {start:g} s and {end:g} s")
    return AudioDraft(
        start=start,
        length=end - start,
        out_duration=end - start,
        sample_rate=stream.sample_rate if stream.sample_rate in AUDIO_SAMPLE_RATES else 48000,
        channels=min(stream.channels or 2, 2),
    )


def _audio_plan(src: AudioInput, draft: AudioDraft, name: str, target: str) -> FixPlan:
    """Copy the audio when it is the chosen format and nothing else changes; else convert."""
    stream, fmt = src.stream, draft.suffix.lstrip(".")
    steps = list(draft.steps)
    same = fmt == src.source_format and not steps
    if same:
        steps.append(
            FixStep(
                "remux",
                f"copy the {stream.codec} audio into a .{fmt} file without re-encoding",
                "audio.format",
            )
        )
        spec = AudioSpec(codec="copy")
    else:
        now = src.source_format or src.facts.container or "?"
        if now != fmt:
            rule = "audio.format" if src.failing("audio.format") else None
            steps.append(FixStep("convert-audio", f"convert {now} ({stream.codec}) to {fmt}", rule))
        spec = AudioSpec(
            codec=draft.codec,
            bitrate=draft.bitrate,
            sample_rate=draft.sample_rate,
            channels=draft.channels,
            pad_to=draft.pad_to,
        )
    return FixPlan(
        source=name,
        target=target,
        role="audio",
        strategy=Strategy.AUDIO,
        steps=tuple(steps),
        warnings=draft.warnings,
        start=draft.start,
        duration=None if same else draft.out_duration,
        audio=spec,
        container=draft.muxer,
        size_limit=draft.size_limit,
        compress=draft.compress,
    )
