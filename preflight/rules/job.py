"""Rules on the whole job: readable inputs, the right mix of inputs, matching lengths."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from preflight.model.findings import Severity
from preflight.model.job import Job
from preflight.rules.base import Param, ParamType, Rule, Violation, fmt_num

__all__ = ["RULES"]


def check_readable(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """Every input must be readable as media.

    Reports what the probe could not read: a missing path, a directory with no media, an empty
    file, text renamed ``.mp4``, a truncated file, no permission, an unreachable URL. Always on,
    always an error: nothing else can be checked about an unreadable input. Not fixable.
    """
    for role, message in job.input_errors:
        yield Violation(f"{role}: {message}", role, None, False)


def _given(job: Job, role: str) -> bool:
    """Whether the job names an input for ``role`` (readable or not)."""
    return getattr(job, role) is not None or any(r == role for r, _ in job.input_errors)


def check_inputs(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The job must carry the inputs the endpoint needs, in one accepted mode.

    ``requires`` lists media that must be given (``video``, ``image``); a video or image the
    endpoint does not take is an error too. ``modes`` lists the
    accepted ways to say what is spoken: ``text`` (text plus a voice id) or ``audio`` (an audio
    file); exactly one of them, never both. An empty ``modes`` means the endpoint takes neither.
    Not fixable: the request itself is incomplete.
    """
    requires = tuple(params.get("requires", ()))
    for role in requires:
        if not _given(job, role):
            yield Violation(f"no {role} given", None, role, False)
    for role in ("video", "image"):
        if role not in requires and _given(job, role):
            yield Violation(f"this endpoint takes no {role}", role, list(requires), False)
    modes = tuple(params.get("modes", ()))
    has_text = job.text is not None
    has_audio = _given(job, "audio")
    used = [m for m, on in (("text", has_text), ("audio", has_audio)) if on]
    if not modes:
        if used:
            yield Violation(f"this endpoint takes no {' or '.join(used)}", used, [], False)
        return
    if len(used) > 1:
        yield Violation(
            "give text with a voice id, or an audio file, not both", used, list(modes), False
        )
        return
    if not used:
        hint = " (a voice id without text is not enough)" if job.voice_id is not None else ""
        need = " or ".join(
            "text with a voice id" if m == "text" else "an audio file" for m in modes
        )
        yield Violation(f"nothing to lip-sync: give {need}{hint}", [], list(modes), False)
        return
    mode = used[0]
    if mode not in modes:
        yield Violation(
            f"this endpoint does not take {mode} (accepted: {', '.join(modes)})",
            mode,
            list(modes),
            False,
        )
    elif mode == "text" and not job.voice_id:
        yield Violation("text needs a voice id", None, "voice_id", False)


def check_av_duration(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The audio and the video should be about as long as each other (within ``tolerance`` s).

    Kling does not document what happens on a mismatch: one source says the output follows the
    audio, a reseller says it trims the audio to the video. A warning by default. Fixable: the
    fixer fits one to the other (trim or pad).
    """
    video, audio = job.video, job.audio
    if video is None or audio is None or video.video is None or audio.audio is None:
        return
    v = video.effective_duration
    a = audio.audio.duration if audio.audio.duration is not None else audio.duration
    tolerance = params.get("tolerance", 0.0)
    if v is None or a is None:
        return
    gap = round(abs(v - a), 3)
    if gap > tolerance:
        longer = "audio" if a > v else "video"
        yield Violation(
            f"audio is {fmt_num(a)} s and video {fmt_num(v)} s: the {longer} is "
            f"{fmt_num(gap)} s longer (tolerance {fmt_num(tolerance)} s)",
            gap,
            tolerance,
            True,
        )


def check_av_ratio(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The audio's length must be within ``tolerance`` (a fraction) of the video's length.

    A relative version of ``job.av_duration`` for hosts that state one (a HeyGen reseller: within
    15 % of the video, an unbilled failure otherwise). Fixable: the fixer fits the video to the
    audio (trim, or hold the last frame).
    """
    video, audio = job.video, job.audio
    if video is None or audio is None or video.video is None or audio.audio is None:
        return
    v = video.effective_duration
    a = audio.audio.duration if audio.audio.duration is not None else audio.duration
    tolerance = params.get("tolerance")
    if v is None or a is None or not v or tolerance is None:
        return
    ratio = round(abs(a - v) / v, 4)
    if ratio > tolerance:
        longer = "longer" if a > v else "shorter"
        yield Violation(
            f"audio is {fmt_num(a)} s and video {fmt_num(v)} s: the audio is "
            f"{fmt_num(ratio * 100)} % {longer} (tolerance {fmt_num(tolerance * 100)} %)",
            ratio,
            tolerance,
            True,
        )


RULES = (
    Rule("input.readable", check_readable),
    Rule(
        "job.inputs",
        check_inputs,
        {
            "modes": Param(ParamType.STRINGS, ["text", "audio"], "text (+voice) or audio"),
            "requires": Param(ParamType.STRINGS, [], "media that must be given"),
        },
    ),
    Rule(
        "job.av_duration",
        check_av_duration,
        {"tolerance": Param(ParamType.NUMBER, 0.5, "seconds of difference allowed")},
        default_severity=Severity.WARNING,
    ),
    Rule(
        "job.av_ratio",
        check_av_ratio,
        {
            "tolerance": Param(
                ParamType.NUMBER, 0.15, "difference allowed, as a fraction of the video"
            )
        },
    ),
)
