"""Rules on the video input: container, stream, duration, display size, file size, codec, frame
rate and the header metadata a host reads."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from preflight.model.job import Job
from preflight.rules.base import Param, ParamType, Rule, Violation, fmt_bytes, fmt_num, name_of

__all__ = ["RULES", "bounds"]

# Containers FFmpeg names differently from the extension people use for them.
_CONTAINER_EXTENSIONS = {
    "mp4": {"mp4", "m4v"},
    "mov": {"mov", "qt"},
    "matroska": {"mkv"},
    "webm": {"webm"},
    "avi": {"avi"},
    "mpegts": {"ts", "m2ts", "mts"},
}
# ISO base media: an .mp4 holding a QuickTime-branded file (or the reverse) is the same format.
_ISO_FAMILY = {"mp4", "mov"}


def bounds(
    value: float, params: Mapping[str, Any], *, what: str, unit: str, fixable: bool
) -> Iterator[Violation]:
    """Yield a violation when ``value`` lies outside ``params["min"]``..``params["max"]``."""
    low, high = params.get("min"), params.get("max")
    shown = f"{fmt_num(value)}{unit}"
    if low is not None and value < low:
        yield Violation(
            f"{what} is {shown}, below the minimum of {fmt_num(low)}{unit}", value, low, fixable
        )
    if high is not None and value > high:
        yield Violation(
            f"{what} is {shown}, above the maximum of {fmt_num(high)}{unit}", value, high, fixable
        )


def check_container(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The video's container, sniffed from its content, and its file extension must be accepted.

    ``allowed`` lists container names as the probe reports them (``mp4``, ``mov``);
    ``extensions`` lists the file name endings the provider accepts. A name that lies about the
    content (a Matroska file called ``clip.mp4``) fails here although the name looks right.
    Fixable: the fixer remuxes (or re-encodes) into MP4 under a matching name.
    """
    facts = job.video
    if facts is None:
        return
    allowed = tuple(params.get("allowed", ()))
    extensions = tuple(params.get("extensions", ()))
    container = facts.container
    ext = facts.extension
    if container is None:
        yield Violation(
            f"{name_of(facts)}: unknown container; accepted: {', '.join(allowed)}",
            None,
            list(allowed),
            True,
        )
        return
    if allowed and container not in allowed:
        lie = ""
        if ext and ext not in _CONTAINER_EXTENSIONS.get(container, {container}):
            lie = f" (the name says .{ext} but the content is {container})"
        yield Violation(
            f"container is {container}{lie}; accepted: {', '.join(allowed)}",
            container,
            list(allowed),
            True,
        )
        return
    if extensions and ext not in extensions:
        shown = f".{ext}" if ext else "no extension"
        yield Violation(
            f"file name has {shown}; the provider accepts "
            f"{', '.join('.' + e for e in extensions)} (the content is {container})",
            ext,
            list(extensions),
            True,
        )


def check_stream(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The video input must contain a video stream (an audio file or an image is not a video).

    Not fixable: there is no picture to keep.
    """
    facts = job.video
    if facts is None or facts.video is not None:
        return
    what = "an audio-only file" if facts.audio is not None else "no video stream"
    if facts.image is not None:
        what = "a still image"
    yield Violation(f"{name_of(facts)} has no video stream ({what})", facts.video_streams, 1, False)


def check_duration(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The video's duration must lie within ``min``..``max`` seconds (both inclusive).

    Uses ``MediaFacts.effective_duration``: the video stream's own duration, else the container's.
    Compared at millisecond precision. Fixable: a long clip is trimmed, a short one padded.
    """
    facts = job.video
    if facts is None or facts.video is None:
        return
    duration = facts.effective_duration
    if duration is None:
        yield Violation("the video's duration could not be determined", None, None, False)
        return
    yield from bounds(
        round(duration, 3),
        params,
        what=f"duration ({facts.duration_source})",
        unit=" s",
        fixable=True,
    )


def _side(job: Job, params: Mapping[str, Any], side: str) -> Iterator[Violation]:
    facts = job.video
    if facts is None or facts.video is None:
        return
    stream = facts.video
    shown = stream.width if side == "width" else stream.height
    if shown is None:
        yield Violation(f"the video's {side} could not be determined", None, None, False)
        return
    coded = stream.coded_width if side == "width" else stream.coded_height
    notes = []
    if stream.rotation in (90, 270):
        notes.append(f"rotated {stream.rotation}°")
    if stream.sample_aspect_ratio not in ("1:1", "0:1", ""):
        notes.append(f"pixel aspect {stream.sample_aspect_ratio}")
    what = f"display {side}"
    if notes:
        stored = f"stored {coded} px, " if coded is not None else ""
        what += f" ({stored}{', '.join(notes)})"
    yield from bounds(shown, params, what=what, unit=" px", fixable=True)


def check_width(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The video's display width must lie within ``min``..``max`` pixels (both inclusive).

    Display size is what a viewer sees: pixel aspect ratio and rotation metadata applied, so a
    1280x720 clip rotated 90° is 720 wide. Fixable: the fixer scales (and pads if needed).
    """
    yield from _side(job, params, "width")


def check_height(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The video's display height must lie within ``min``..``max`` pixels (both inclusive).

    Display size as for ``video.width``. Fixable: the fixer scales (and pads if needed).
    """
    yield from _side(job, params, "height")


def check_size(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The video file must be at most ``max_bytes`` bytes.

    Byte limits are exact counts; the profile notes how a provider's "MB" was read. Fixable: the
    fixer re-encodes at a bit rate that fits.
    """
    facts = job.video
    limit = params.get("max_bytes")
    if facts is None or limit is None or facts.size_bytes <= limit:
        return
    yield Violation(
        f"file is {fmt_bytes(facts.size_bytes)}, above the limit of {fmt_bytes(limit)}",
        facts.size_bytes,
        limit,
        True,
    )


def check_codec(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The video codec should be one of ``allowed`` (the codecs kept without re-encoding).

    No provider document lists video codecs; H.264 is what every source's examples use. Fixable:
    the fixer re-encodes to H.264.
    """
    facts = job.video
    if facts is None or facts.video is None:
        return
    allowed = tuple(params.get("allowed", ()))
    codec = facts.video.codec
    if allowed and codec not in allowed:
        yield Violation(
            f"video codec is {codec or 'unknown'}; expected one of {', '.join(allowed)}",
            codec,
            list(allowed),
            True,
        )


def check_frame_rate(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The video's frame rate must lie within ``min``..``max`` frames per second (inclusive).

    The rate is the stream's average (variable-rate clips are judged by it). An unknown rate is
    ``video.metadata``'s finding, not this rule's. Fixable: the fixer resamples with FFmpeg's
    ``fps`` filter to the nearest bound.
    """
    facts = job.video
    if facts is None or facts.video is None or facts.video.frame_rate is None:
        return
    rate = round(facts.video.frame_rate, 3)
    yield from bounds(rate, params, what="frame rate", unit=" fps", fixable=True)


_METADATA = {
    "duration": lambda facts: facts.effective_duration is not None,
    "frame_rate": lambda facts: facts.video is not None and facts.video.frame_rate is not None,
}


def check_metadata(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The video file must carry the metadata named in ``requires`` (``duration``, ``frame_rate``).

    Some hosts read the duration and frame rate from the container's header and fail the job,
    after it is paid for, when a file (a raw stream, a live recording cut short) has none.
    Fixable: the fixer remuxes into MP4 (and re-encodes at a constant rate when the rate is
    unknown), which writes both.
    """
    facts = job.video
    if facts is None or facts.video is None:
        return
    wanted = tuple(params.get("requires", ()))  # the profile loader allows only _METADATA's keys
    missing = [k for k in wanted if not _METADATA[k](facts)]
    if missing:
        shown = " and ".join(k.replace("_", " ") for k in missing)
        yield Violation(
            f"{name_of(facts)} carries no {shown} in its header", missing, list(wanted), True
        )


_SECONDS = {
    "min": Param(ParamType.NUMBER, help="shortest accepted, seconds (inclusive)"),
    "max": Param(ParamType.NUMBER, help="longest accepted, seconds (inclusive)"),
}
_PIXELS = {
    "min": Param(ParamType.INTEGER, help="smallest accepted, display pixels (inclusive)"),
    "max": Param(ParamType.INTEGER, help="largest accepted, display pixels (inclusive)"),
}

RULES = (
    Rule(
        "video.container",
        check_container,
        {
            "allowed": Param(ParamType.STRINGS, ["mp4", "mov"], "sniffed container names"),
            "extensions": Param(ParamType.STRINGS, ["mp4", "mov"], "accepted file extensions"),
        },
    ),
    Rule("video.stream", check_stream),
    Rule("video.duration", check_duration, _SECONDS),
    Rule("video.width", check_width, _PIXELS),
    Rule("video.height", check_height, _PIXELS),
    Rule("video.size", check_size, {"max_bytes": Param(ParamType.INTEGER, help="exact bytes")}),
    Rule(
        "video.codec",
        check_codec,
        {"allowed": Param(ParamType.STRINGS, ["h264", "hevc"], "codec names (FFmpeg's)")},
    ),
    Rule(
        "video.frame_rate",
        check_frame_rate,
        {
            "min": Param(ParamType.NUMBER, help="lowest accepted, frames per second (inclusive)"),
            "max": Param(ParamType.NUMBER, help="highest accepted, frames per second (inclusive)"),
        },
    ),
    Rule(
        "video.metadata",
        check_metadata,
        {
            "requires": Param(
                ParamType.STRINGS, ["duration"], "header fields a host reads", tuple(_METADATA)
            )
        },
    ),
)
