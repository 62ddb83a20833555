"""The fixes of the video rules: each turns its rule's finding into a change of the output draft.

A fix is called for every plan, in the order of `FIXES`, with its rule's error finding on the
input or None: the output must keep to the rule's parameters even when the input passes (a
``--start`` late in a clip can leave it too short; a re-encode made for another rule still has
to fit the size limit). A fix that needs the video re-encoded says so with ``reencode=True``;
the planner picks the cheapest strategy that honours every fix (copy, remux, then re-encode).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction

from preflight.fixing.draft import (
    Unfixable,
    VideoDraft,
    VideoInput,
    rate_text,
    seconds,
    video_window,
)
from preflight.fixing.geometry import Geometry, fit_window
from preflight.fixing.plan import FixStep
from preflight.model.facts import MediaFacts
from preflight.model.findings import Finding

__all__ = [
    "FIXES",
    "VideoFix",
    "audio_gap",
    "change_container",
    "compress_to_size",
    "fit_duration",
    "fit_frame",
    "fit_frame_rate",
    "fit_to_audio",
    "keep_metadata",
    "reencode_codec",
]

VideoFix = Callable[[Finding | None, VideoDraft, VideoInput], VideoDraft]

DEFAULT_KEEP_VIDEO = ("h264", "hevc")
FIT_TOLERANCE = 0.05  # seconds two lengths may differ and still count as fitted
SIZE_SAFETY = 0.95  # aim this far under a byte limit
CONTAINER_OVERHEAD = 0.01  # MP4 boxes + interleaving, as a share of the file
CONTAINER_OVERHEAD_BYTES = 64_000
MIN_VIDEO_BITRATE = 150_000
# The VBV buffer of a compress-to-size encode, as a share of the output's length: x264 keeps the
# bits written by any time t within maxrate x t + buffer, so the whole file stays within this
# share of the budget over it (the budget itself is SIZE_SAFETY under the limit).
COMPRESS_BUFFER_SHARE = 0.04
AUDIO_BITRATES = (128_000, 96_000, 64_000, 48_000, 32_000)


def fit_frame_rate(finding: Finding | None, draft: VideoDraft, src: VideoInput) -> VideoDraft:
    """``video.frame_rate``: resample (FFmpeg's ``fps`` filter) to the nearest bound of
    ``min``..``max``. Runs first: every later fix counts frames at the output's rate."""
    low, high = src.limit("video.frame_rate", "min"), src.limit("video.frame_rate", "max")
    rate = draft.rate
    if high is not None and rate > high:
        target = Fraction(high).limit_denominator(1001)
    elif low is not None and rate < low:
        target = Fraction(low).limit_denominator(1001)
    else:
        return draft
    window = video_window(src.duration, src.options, target)
    step = FixStep(
        "frame-rate",
        f"resample {rate_text(rate)} fps to {rate_text(target)} fps (accepted: "
        f"{'' if low is None else f'{low:g}'}-{'' if high is None else f'{high:g}'} fps)",
        "video.frame_rate",
    )
    return replace(
        window,
        container=draft.container,
        audio_bitrate=draft.audio_bitrate,
        reencode=True,
        steps=(*draft.steps, step),
        warnings=draft.warnings,
    )


def keep_metadata(finding: Finding | None, draft: VideoDraft, src: VideoInput) -> VideoDraft:
    """``video.metadata``: writing MP4 puts the duration and frame rate in its header; a stream
    whose rate is unknown is re-encoded at a constant rate (the planner's frame rate)."""
    if finding is None:
        return draft
    if src.stream.frame_rate:
        step = FixStep(
            "remux", "write MP4, whose header states duration and frame rate", "video.metadata"
        )
        return draft.step(step)
    step = FixStep(
        "frame-rate",
        f"re-encode at a constant {rate_text(draft.rate)} fps (the rate was unknown)",
        "video.metadata",
    )
    return replace(draft.step(step), reencode=True)


def fit_duration(finding: Finding | None, draft: VideoDraft, src: VideoInput) -> VideoDraft:
    """``video.duration``: trim to one frame inside the maximum, or extend one frame past the
    minimum (freezing the last frame or looping, as ``--extend`` says)."""
    dmin = src.limit("video.duration", "min")
    dmax = src.limit("video.duration", "max")
    if dmax is not None and draft.length > dmax + 1e-9:
        return _trim(draft, dmax, src)
    if dmin is not None and draft.length < dmin - 1e-9:
        floor = max(dmin, src.options.min_duration or 0.0)
        why = f"one frame past the {seconds(dmin)} minimum"
        return _extend(draft, floor, dmax, src, why, "video.duration")
    return draft


def _trim(draft: VideoDraft, dmax: float, src: VideoInput) -> VideoDraft:
    frames = min(draft.have, math.ceil(dmax * draft.fps - 1e-9) - 1)
    kept = frames / draft.fps
    where = f"from {seconds(draft.start)}" if draft.start else "from the start"
    step = FixStep(
        "trim",
        f"trim to {seconds(kept)} ({frames} frames {where}), one frame "
        f"inside the {seconds(dmax)} limit",
        "video.duration",
        {"start": draft.start, "duration": kept, "frames": frames},
    )
    draft = replace(draft, frames=frames, trimmed=True, capped=True, window_step=step)
    end = src.options.end
    if end is not None and end - draft.start > dmax:
        draft = draft.warn(
            f"the window --start/--end is {seconds(end - draft.start)}, longer "
            f"than {seconds(dmax)}: only its first {seconds(kept)} are kept"
        )
    return draft


def _extend(
    draft: VideoDraft, floor: float, dmax: float | None, src: VideoInput, why: str, rule: str
) -> VideoDraft:
    fps = draft.fps
    frames = math.floor(floor * fps + 1e-9) + 1
    if dmax is not None:
        frames = min(frames, math.ceil(dmax * fps - 1e-9) - 1)
    mode = src.options.extend
    how = "freezing the last frame" if mode == "freeze" else "looping the clip"
    step = FixStep(
        "extend",
        f"extend {seconds(draft.length)} to {seconds(frames / fps)} by "
        f"{how} (audio padded with silence), {why}",
        rule,
        {"mode": mode, "duration": frames / fps},
    )
    return replace(
        draft, frames=frames, extend_by=frames / fps - draft.have / fps, window_step=step
    )


def fit_to_audio(finding: Finding | None, draft: VideoDraft, src: VideoInput) -> VideoDraft:
    """``job.av_duration`` (video side): lengthen the video to its audio (``min_duration``, set by
    `fix_pair`), or pad the clip's own audio to the video (``--fit-audio``)."""
    facts = src.facts
    if src.options.fit_audio and facts.audio is not None and audio_gap(facts) > FIT_TOLERANCE:
        draft = replace(draft, fit_audio=True)
    wanted = src.options.min_duration
    extended = draft.window_step is not None and draft.window_step.rule == "video.duration"
    if wanted is None or draft.capped or extended or draft.length >= wanted - FIT_TOLERANCE:
        return draft  # (an extension to the minimum already reached the audio's length)
    floor = max(src.limit("video.duration", "min") or 0.0, wanted)
    dmax = src.limit("video.duration", "max")
    return _extend(draft, floor, dmax, src, "to match the audio", "job.av_duration")


def audio_gap(facts: MediaFacts) -> float:
    if facts.audio is None or facts.audio.duration is None or facts.effective_duration is None:
        return 0.0
    return abs(facts.audio.duration - facts.effective_duration)


def reencode_codec(finding: Finding | None, draft: VideoDraft, src: VideoInput) -> VideoDraft:
    """``video.codec``: a codec the profile does not keep is re-encoded as H.264 (also when the
    rule is off or a warning: the codecs listed are the ones an MP4 remux can carry)."""
    keep = tuple(src.profile.param("video.codec", "allowed", DEFAULT_KEEP_VIDEO))
    codec = src.stream.codec
    if codec in keep:
        return draft
    if finding is not None:
        step = FixStep("transcode-video", f"re-encode {codec} as H.264", "video.codec")
    else:
        step = FixStep(
            "transcode-video",
            f"re-encode {codec} as H.264 (the profile keeps only {', '.join(keep)} without "
            "re-encoding)",
            "video.container" if src.failing("video.container") else None,
        )
    return replace(draft.step(step), reencode=True)


def change_container(finding: Finding | None, draft: VideoDraft, src: VideoInput) -> VideoDraft:
    """``video.container``: write MP4 (or MOV, by the output's name); a remux when the codecs
    allow it, which needs no change here (the planner's cheapest strategy)."""
    if finding is None:
        return draft
    step = FixStep(
        "remux", f"write {draft.container.upper()} (was {src.facts.container})", "video.container"
    )
    return draft.step(step)


def fit_frame(finding: Finding | None, draft: VideoDraft, src: VideoInput) -> VideoDraft:
    """``video.width`` and ``video.height``: scale the display size into both sides' ranges
    (aspect kept, even sides), padding or cropping (``--aspect``) when no single scale fits.

    Registered for both rules: one frame answers both, so the second call changes nothing.
    """
    if draft.geometry is not None:
        return draft
    stream = src.stream
    assert stream.width is not None
    assert stream.height is not None
    geometry = fit_window(
        stream.width,
        stream.height,
        min_width=src.limit("video.width", "min"),
        max_width=src.limit("video.width", "max"),
        min_height=src.limit("video.height", "min"),
        max_height=src.limit("video.height", "max"),
        aspect=src.options.aspect,
        square_pixels=stream.sample_aspect_ratio in ("1:1", "0:1", ""),
    )
    draft = replace(draft, geometry=geometry)
    if geometry.fit == "none":
        return draft
    rule = next((r for r in ("video.width", "video.height") if src.failing(r)), None)
    for step in _frame_steps(geometry, src, rule):
        draft = draft.step(step)
    if geometry.upscaled:
        draft = draft.warn(
            f"upscaled {geometry.factor:.2f}x from {stream.width}x{stream.height}: "
            "detail cannot be added, the picture will look soft"
        )
    return replace(draft, reencode=draft.reencode or rule is not None)


def _frame_steps(geometry: Geometry, src: VideoInput, rule: str | None) -> list[FixStep]:
    stream = src.stream
    notes = []
    if stream.rotation:
        notes.append(f"rotated {stream.rotation}°")
    if stream.sample_aspect_ratio not in ("1:1", "0:1", ""):
        notes.append(f"pixel aspect {stream.sample_aspect_ratio}")
    shown = f"{stream.width}x{stream.height}" + (f" ({', '.join(notes)})" if notes else "")
    if geometry.fit == "scale":
        text = (
            f"scale {shown} to {geometry.width}x{geometry.height} "
            "(display size, aspect kept, even sides)"
        )
        return [FixStep("scale", text, rule)]
    what = "pad" if geometry.fit == "pad" else "crop"
    how = "black bars, centred" if what == "pad" else "centred"
    return [
        FixStep(
            "scale", f"scale {shown} to {geometry.scaled_width}x{geometry.scaled_height}", rule
        ),
        FixStep(
            what,
            f"no single scale fits {stream.width}:{stream.height} in the "
            f"window: {what} to {geometry.width}x{geometry.height} ({how})",
            rule,
            {"aspect": src.options.aspect},
        ),
    ]


def compress_to_size(finding: Finding | None, draft: VideoDraft, src: VideoInput) -> VideoDraft:
    """``video.size``: a re-encode's bit rate is capped so the file fits ``max_bytes``; an output
    predicted over the limit is re-encoded at a bit rate that fits (lowering the audio first
    when too little is left for the video)."""
    limit = src.limit("video.size", "max_bytes")
    facts = src.facts
    out = draft.out_duration
    predicted = (facts.size_bytes * out / src.duration) if src.duration else facts.size_bytes
    budget = video_budget(limit, out, draft.audio_bitrate if facts.audio else 0)
    draft = replace(draft, size_limit=limit, bitrate=budget)
    if limit is None or predicted <= limit:
        return draft
    return _compress(draft, src, limit, budget)


def _compress(draft: VideoDraft, src: VideoInput, limit: int, budget: int | None) -> VideoDraft:
    out = draft.out_duration
    audio_bitrate = draft.audio_bitrate
    if src.facts.audio is not None and (budget is None or budget < MIN_VIDEO_BITRATE):
        for lower in (rate for rate in AUDIO_BITRATES if rate < draft.audio_bitrate):
            audio_bitrate = lower
            budget = video_budget(limit, out, audio_bitrate)
            if budget is not None and budget >= MIN_VIDEO_BITRATE:
                break
    if budget is None or budget <= 0:
        raise Unfixable(f"{seconds(out)} cannot fit in {limit} bytes")
    source_rate = video_bitrate(src.facts)
    bitrate = min(budget, source_rate) if source_rate else budget
    # The budget is both the target and the ceiling of a bit-rate encode: one encode lands at
    # 85-100 % of the limit. (A CRF encode merely capped at the budget was smaller for easy
    # pictures but landed anywhere from 40 % to over the limit; a file that was over the limit
    # is better served by the quality the whole budget buys.)
    how = f"video at {bitrate // 1000} kb/s"
    step = FixStep(
        "compress",
        f"compress to fit {limit:,} bytes: {how} (audio {audio_bitrate // 1000} "
        "kb/s) as a hard ceiling, so one encode lands just under the limit",
        "video.size",
        {"video_bitrate": bitrate, "audio_bitrate": audio_bitrate},
    )
    draft = replace(
        draft,
        audio_bitrate=audio_bitrate,
        bitrate=bitrate,
        tight=True,
        buffer=min(1.0, COMPRESS_BUFFER_SHARE * out),
        compress=True,
        reencode=True,
        rate_step=step,
    )
    if budget < MIN_VIDEO_BITRATE:
        warning = f"only {budget // 1000} kb/s left for video: expect visible blocking"
        draft = replace(draft, rate_warnings=(warning,))
    return draft


def video_bitrate(facts: MediaFacts) -> int | None:
    """The source's video bit rate: as probed, else the file's rate less the audio's."""
    if facts.video is not None and facts.video.bit_rate:
        return facts.video.bit_rate
    duration = facts.effective_duration
    if not duration:
        return None
    total = facts.size_bytes * 8 / duration
    audio = facts.audio.bit_rate if facts.audio is not None and facts.audio.bit_rate else 0
    return max(1, int(total - audio))


def video_budget(limit: int | None, duration: float, audio_bitrate: int) -> int | None:
    """Bits per second left for video in ``limit`` bytes over ``duration`` seconds."""
    if limit is None or duration <= 0:
        return None
    usable = limit * SIZE_SAFETY * (1 - CONTAINER_OVERHEAD) - CONTAINER_OVERHEAD_BYTES
    return int(usable * 8 / duration - audio_bitrate)


# The registry's video half, in the order the fixes run: the window first (every later fix
# reads the output's length), the frame before the size (the bit rate depends on both).
FIXES: tuple[tuple[str, VideoFix], ...] = (
    ("video.frame_rate", fit_frame_rate),
    ("video.duration", fit_duration),
    ("job.av_duration", fit_to_audio),
    ("job.av_ratio", fit_to_audio),
    ("video.codec", reencode_codec),
    ("video.container", change_container),
    ("video.width", fit_frame),
    ("video.height", fit_frame),
    ("video.size", compress_to_size),
    ("video.metadata", keep_metadata),
)
