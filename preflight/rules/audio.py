"""Rules on the audio input of an audio-to-video lip-sync job: format, size, duration."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from preflight.model.facts import MediaFacts
from preflight.model.findings import Severity
from preflight.model.job import Job
from preflight.rules.base import Param, ParamType, Rule, Violation, fmt_bytes, name_of
from preflight.rules.video import bounds

__all__ = ["RULES", "audio_format"]

# sniffed container -> the audio format name providers use (their names are file extensions)
_FORMAT_BY_CONTAINER = {"mp3": "mp3", "wav": "wav", "adts": "aac", "mp4": "m4a", "mov": "m4a"}


def audio_format(facts: MediaFacts) -> str | None:
    """The provider-style format name of an audio file (``mp3``, ``wav``, ``m4a``, ``aac``).

    ``m4a`` means an MP4 container holding audio and no video; anything else keeps its container
    name (``flac``, ``ogg``, ``matroska``), or None when the container is unknown.
    """
    if facts.container is None:
        return None
    fmt = _FORMAT_BY_CONTAINER.get(facts.container, facts.container)
    if fmt == "m4a" and facts.video is not None:
        return facts.container
    return fmt


def check_format(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The audio file must be one of ``allowed`` formats, by content and by file extension.

    The format is sniffed from the content (``m4a`` = MP4 audio, ``aac`` = raw ADTS); the name
    must end in one of the same formats too (providers check the URL's ending). A file with no
    audio stream fails. Fixable: the fixer transcodes (or renames) to a matching format,
    extracting the audio from a video if needed.
    """
    facts = job.audio
    if facts is None:
        return
    allowed = tuple(params.get("allowed", ()))
    if facts.audio is None:
        yield Violation(f"{name_of(facts)} has no audio stream", facts.audio_streams, 1, False)
        return
    fmt = audio_format(facts)
    if allowed and fmt not in allowed:
        lie = ""
        if facts.video is not None:
            lie = " (a video file; the audio can be extracted)"
        elif facts.extension and facts.extension != fmt:
            lie = f" (named .{facts.extension})"
        yield Violation(
            f"audio format is {fmt or 'unknown'}{lie}; accepted: {', '.join(allowed)}",
            fmt,
            list(allowed),
            True,
        )
    elif allowed and facts.extension not in allowed:
        shown = f".{facts.extension}" if facts.extension else "no extension"
        yield Violation(
            f"audio file name has {shown}; accepted: "
            f"{', '.join('.' + a for a in allowed)} (the content is {fmt})",
            facts.extension,
            list(allowed),
            True,
        )


def check_size(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The audio file must be at most ``max_bytes`` bytes.

    Fixable: the fixer re-encodes at a lower bit rate (or trims).
    """
    facts = job.audio
    limit = params.get("max_bytes")
    if facts is None or limit is None or facts.size_bytes <= limit:
        return
    yield Violation(
        f"audio file is {fmt_bytes(facts.size_bytes)}, above the limit of {fmt_bytes(limit)}",
        facts.size_bytes,
        limit,
        True,
    )


def check_duration(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The audio's duration must lie within ``min``..``max`` seconds (both inclusive).

    Uses the audio stream's duration, else the container's. Fixable: trimmed or padded with silence.
    """
    facts = job.audio
    if facts is None or facts.audio is None:
        return
    duration = facts.audio.duration if facts.audio.duration is not None else facts.duration
    if duration is None:
        yield Violation("the audio's duration could not be determined", None, None, False)
        return
    yield from bounds(round(duration, 3), params, what="audio duration", unit=" s", fixable=True)


def check_streams(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The audio should come as at most ``max`` audio streams (the file that carries the audio).

    Some hosts use only the first audio stream and ignore the rest, so a second language track
    or a commentary track is silently dropped. The file that carries the audio is the audio
    input when one is given, else the video. Fixable: the fixer keeps the first audio stream.
    """
    facts = job.audio if job.audio is not None else job.video
    limit = params.get("max")
    if facts is None or limit is None or facts.audio_streams <= limit:
        return
    yield Violation(
        f"{name_of(facts)} has {facts.audio_streams} audio streams; only the first "
        f"{'is' if limit == 1 else f'{limit} are'} used",
        facts.audio_streams,
        limit,
        True,
    )


RULES = (
    Rule(
        "audio.format",
        check_format,
        {"allowed": Param(ParamType.STRINGS, ["mp3", "wav", "m4a", "aac"], "format names")},
    ),
    Rule("audio.size", check_size, {"max_bytes": Param(ParamType.INTEGER, help="exact bytes")}),
    Rule(
        "audio.duration",
        check_duration,
        {
            "min": Param(ParamType.NUMBER, help="shortest accepted, seconds (inclusive)"),
            "max": Param(ParamType.NUMBER, help="longest accepted, seconds (inclusive)"),
        },
    ),
    Rule(
        "audio.streams",
        check_streams,
        {"max": Param(ParamType.INTEGER, 1, "audio streams the host reads")},
        default_severity=Severity.WARNING,
    ),
)
