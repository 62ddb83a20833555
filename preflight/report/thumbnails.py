"""Small still frames of an input, as ``data:`` URIs, for the HTML report.

This is the only part of the report that does I/O: the CLI computes the pictures here (FFmpeg,
through the one runner) and hands them to the pure renderer (`preflight.report.html`). A frame
that cannot be decoded is simply missing; a report never fails for want of a picture.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from preflight.model.errors import PreflightError
from preflight.model.facts import MediaFacts
from preflight.model.sources import is_url

__all__ = [
    "THUMB_WIDTH",
    "Thumb",
    "fix_frames",
    "frame_at",
    "frames_at",
    "report_thumbnails",
    "strip",
]

THUMB_WIDTH = 240  # px: three side by side fit a laptop screen's row
_JPEG_QUALITY = "6"  # FFmpeg's mjpeg -q:v (2 best .. 31 worst): small files, faces still legible
_TIMEOUT = 30.0
_SOI, _EOI = b"\xff\xd8", b"\xff\xd9"  # a JPEG's first and last two bytes


@dataclass(frozen=True, slots=True)
class Thumb:
    """One frame: what it shows (``start``, ``middle``, ``end``...), when, and the image."""

    label: str
    time: float | None
    uri: str  # data:image/jpeg;base64,...


def frame_at(
    source: str, time: float | None, *, width: int = THUMB_WIDTH, image: bool = False
) -> str | None:
    """The frame of local ``source`` at ``time`` seconds (None: the first) as a JPEG data URI.

    ``image``: ``source`` is a still, read with the ``image2pipe`` demuxer (the runner does not
    allow ``image2``, which FFmpeg picks for a ``.jpg`` by its name: it reads patterns of files).
    Returns None when FFmpeg cannot decode one (a broken file, an audio-only input).
    """
    from preflight.toolchain.runner import input_args, stream

    args = ["-loglevel", "error"]
    if time:
        args += ["-ss", f"{time:.3f}"]
    if image:
        args += ["-f", "image2pipe"]
    args += [*input_args(source), "-map", "0:v:0", "-frames:v", "1"]
    args += ["-vf", f"scale={width}:-2", "-c:v", "mjpeg", "-q:v", _JPEG_QUALITY]
    args += ["-f", "image2pipe", "pipe:1"]
    try:
        data = b"".join(stream(args, timeout=_TIMEOUT))
    except (PreflightError, OSError):
        return None
    if not data.startswith(_SOI):
        return None
    return _uri(data)


def _moments(facts: MediaFacts) -> list[tuple[str, float | None]]:
    if facts.video is None:
        return [("image", None)] if facts.image is not None else []
    duration = facts.effective_duration or 0.0
    if duration <= 0:
        return [("start", None)]
    # the last frame sits a little before the end: seeking to the very end decodes nothing
    end = max(0.0, duration - min(0.5, duration / 10))
    return [("start", None), ("middle", duration / 2), ("end", end)]


def strip(facts: MediaFacts, *, width: int = THUMB_WIDTH) -> tuple[Thumb, ...]:
    """Start, middle and end frames of a local video (one frame for an image), made by one
    FFmpeg process (`_frames`)."""
    if is_url(facts.source) or not os.path.isfile(facts.source):
        return ()
    moments = _moments(facts)
    uris = _frames(facts.source, [t for _, t in moments], width, image=facts.video is None)
    return tuple(Thumb(label, t, uri) for (label, t), uri in zip(moments, uris, strict=True) if uri)


def _frames(
    source: str, times: Sequence[float | None], width: int = THUMB_WIDTH, *, image: bool = False
) -> list[str | None]:
    """The frame at each of ``times`` (None where none decodes), by one FFmpeg process
    (:func:`frames_at`). Should it not give one frame per time (a moment past the decodable end,
    a broken file), each time is tried on its own, so exactly the undecodable frames are None."""
    uris: list[str | None] = list(frames_at(source, times, width=width)) if len(times) > 1 else []
    if len(uris) != len(times):
        uris = [frame_at(source, t, width=width, image=image) for t in times]
    return uris


def frames_at(source: str, times: Sequence[float | None], *, width: int = THUMB_WIDTH) -> list[str]:
    """The frames of local ``source`` at each of ``times`` (None: the first), in one FFmpeg run.

    The source is opened once per time, each fast-seeked (``-ss`` before ``-i``, as
    :func:`frame_at` does) and trimmed to its first frame; the frames are concatenated into one
    MJPEG stream and split on the JPEG markers. Returns the data URIs FFmpeg gave: fewer than
    ``times`` (and then unlabelled) when a moment decodes nothing or FFmpeg fails.
    """
    if len(times) <= 1:
        one = frame_at(source, times[0] if times else None, width=width)
        return [one] if one is not None else []
    from preflight.toolchain.runner import input_args, stream

    args = ["-loglevel", "error"]
    chains = []
    for i, time in enumerate(times):
        if time:
            args += ["-ss", f"{time:.3f}"]
        args += input_args(source)
        chains.append(f"[{i}:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,scale={width}:-2[f{i}]")
    inputs = "".join(f"[f{i}]" for i in range(len(times)))
    graph = ";".join([*chains, f"{inputs}concat=n={len(times)}:v=1:a=0,settb=1,setpts=N[out]"])
    args += ["-filter_complex", graph, "-map", "[out]", "-fps_mode", "passthrough"]
    args += ["-c:v", "mjpeg", "-q:v", _JPEG_QUALITY, "-f", "image2pipe", "pipe:1"]
    try:
        data = b"".join(stream(args, timeout=_TIMEOUT))
    except (PreflightError, OSError):
        return []
    return [_uri(jpeg) for jpeg in _split_jpegs(data)]


def _split_jpegs(data: bytes) -> list[bytes]:
    """The JPEG images of a concatenated MJPEG stream, or [] if it is not one.

    An image ends with EOI (FF D9) and the next begins with SOI (FF D8); inside an image FF D9
    is only its end (entropy-coded data stuffs every FF byte), so EOI+SOI is a boundary.
    """
    if not data:
        return []
    images = data.split(_EOI + _SOI)
    images = [
        (b"" if i == 0 else _SOI) + img + (b"" if i == len(images) - 1 else _EOI)
        for i, img in enumerate(images)
    ]
    if not all(img.startswith(_SOI) and img.endswith(_EOI) for img in images):
        return []
    return images


def _uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def report_thumbnails(
    results: Iterable[tuple[str, Mapping[str, MediaFacts]]], *, workers: int | None = None
) -> dict[str, tuple[Thumb, ...]]:
    """Thumbnail strips by result name, for ``(name, facts by role)`` pairs (a report's results).

    The picture is the video's, else the image's. FFmpeg runs in parallel, one child per thread.
    """
    wanted: dict[str, MediaFacts] = {}
    for name, facts in results:
        main = facts.get("video") or facts.get("image")
        if main is not None:
            wanted[name] = main
    if not wanted:
        return {}
    workers = workers or min(len(wanted), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        strips = list(pool.map(strip, wanted.values()))
    return dict(zip(wanted, strips, strict=True))


def _before_after(result: Any) -> tuple[tuple[Thumb, Thumb | None], ...]:
    output, plan = result.output, result.plan
    if not output or plan is None or not os.path.isfile(output) or is_url(result.source):
        return ()
    from preflight.probing import probe

    def length_of(path: str) -> float:
        try:
            return probe(path).effective_duration or 0.0
        except (PreflightError, OSError):
            return 0.0

    length, source_length = length_of(output), length_of(result.source)
    moments = [("start", 0.0)] + ([("middle", length / 2)] if length > 0 else [])
    # the output's second t came from the source's second start + t (a trim moves it); an
    # extended clip goes past the source's end, where the source's last frame is the "before"
    last = max(0.0, source_length - min(0.5, source_length / 10)) if source_length > 0 else None
    ats = [plan.start + t if last is None else min(plan.start + t, last) for _, t in moments]
    befores = _frames(result.source, ats)
    afters = _frames(output, [t for _, t in moments]) if any(befores) else []
    pairs = []
    for (label, t), at, before, after in zip(moments, ats, befores, afters, strict=False):
        if before is None:
            continue
        pairs.append(
            (Thumb(f"before, {label}", at, before),
             Thumb(f"after, {label}", t, after) if after else None)
        )  # fmt: skip
    return tuple(pairs)


def fix_frames(
    results: Iterable[Any], *, workers: int | None = None
) -> dict[str, tuple[tuple[Thumb, Thumb | None], ...]]:
    """(before, after) frame pairs by source, for fix results that wrote an output.

    ``results`` are `preflight.fixing.FixResult` values (read: ``source``, ``output``, ``plan``
    with its ``start``); pairs show the same moment of the clip in the source and the output.
    """
    done = [r for r in results if r.output]
    if not done:
        return {}
    workers = workers or min(len(done), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pairs = list(pool.map(_before_after, done))
    return {r.source: p for r, p in zip(done, pairs, strict=True) if p}
