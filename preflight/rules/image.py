"""Rules on the still image of an image-to-video job: format, file size, side length, aspect."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from preflight.model.facts import MediaFacts
from preflight.model.job import Job
from preflight.rules.base import Param, ParamType, Rule, Violation, fmt_bytes, fmt_num, name_of

__all__ = ["RULES", "image_format", "image_size"]

_FORMAT_ALIASES = {"mjpeg": "jpeg", "jpg": "jpeg", "jpeg_pipe": "jpeg", "png_pipe": "png"}


def image_format(facts: MediaFacts) -> str | None:
    """``jpeg``, ``png``, ... sniffed from content (the container, else the image codec)."""
    for name in (facts.container, facts.image.codec if facts.image else None):
        if name and name not in ("image2",):
            return _FORMAT_ALIASES.get(name, name)
    return None


def image_size(facts: MediaFacts) -> tuple[int, int] | None:
    """The image's (width, height): from its image record, else from a single-frame video stream."""
    if facts.image is not None and facts.image.width and facts.image.height:
        return facts.image.width, facts.image.height
    if facts.video is not None and facts.video.width and facts.video.height:
        return facts.video.width, facts.video.height
    return None


def check_format(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The image must be one of ``allowed`` formats (sniffed) and named with one of ``extensions``.

    The name must also match the content (a JPEG called ``.png`` fails).

    Fixable: the fixer converts to JPEG or PNG under a matching name.
    """
    facts = job.image
    if facts is None:
        return
    allowed = tuple(params.get("allowed", ()))
    extensions = tuple(params.get("extensions", ()))
    fmt = image_format(facts)
    if allowed and fmt not in allowed:
        yield Violation(
            f"{name_of(facts)}: image format is {fmt or 'unknown'}; accepted: {', '.join(allowed)}",
            fmt,
            list(allowed),
            True,
        )
    elif extensions and facts.extension not in extensions:
        shown = f".{facts.extension}" if facts.extension else "no extension"
        yield Violation(
            f"image file name has {shown}; accepted: {', '.join('.' + e for e in extensions)}",
            facts.extension,
            list(extensions),
            True,
        )
    elif fmt is not None and _FORMAT_ALIASES.get(facts.extension, facts.extension) != fmt:
        yield Violation(
            f"{name_of(facts)}: the name says .{facts.extension} but the content is {fmt}",
            fmt,
            list(extensions),
            True,
        )


def check_size(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The image file must be at most ``max_bytes`` bytes.

    Fixable: the fixer re-encodes (JPEG at a lower quality).
    """
    facts = job.image
    limit = params.get("max_bytes")
    if facts is None or limit is None or facts.size_bytes <= limit:
        return
    yield Violation(
        f"image is {fmt_bytes(facts.size_bytes)}, above the limit of {fmt_bytes(limit)}",
        facts.size_bytes,
        limit,
        True,
    )


def check_dimensions(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """Each side of the image must be at least ``min_side`` pixels.

    Fixable: the fixer upscales.
    """
    facts = job.image
    if facts is None:
        return
    size = image_size(facts)
    min_side = params.get("min_side")
    if size is None:
        yield Violation(f"{name_of(facts)}: image size could not be determined", None, None, False)
        return
    if min_side is not None and min(size) < min_side:
        yield Violation(
            f"image is {size[0]}x{size[1]}; each side must be at least {min_side} px",
            list(size),
            min_side,
            True,
        )


def check_aspect(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The image's aspect ratio (width / height) must lie within ``min_ratio``..``max_ratio``.

    Inclusive: 1:2.5 is ``min_ratio = 0.4``, 2.5:1 is ``max_ratio = 2.5``. Fixable: the fixer pads.
    """
    facts = job.image
    if facts is None:
        return
    size = image_size(facts)
    if size is None:
        return
    ratio = size[0] / size[1]
    low, high = params.get("min_ratio"), params.get("max_ratio")
    if (low is not None and ratio < low) or (high is not None and ratio > high):
        yield Violation(
            f"image aspect ratio is {fmt_num(ratio)} ({size[0]}x{size[1]}); accepted: "
            f"{fmt_num(low or 0)}–{fmt_num(high) if high is not None else '∞'}",
            round(ratio, 4),
            [low, high],
            True,
        )


RULES = (
    Rule(
        "image.format",
        check_format,
        {
            "allowed": Param(ParamType.STRINGS, ["jpeg", "png"], "sniffed format names"),
            "extensions": Param(ParamType.STRINGS, ["jpg", "jpeg", "png"], "file extensions"),
        },
    ),
    Rule("image.size", check_size, {"max_bytes": Param(ParamType.INTEGER, help="exact bytes")}),
    Rule(
        "image.dimensions",
        check_dimensions,
        {"min_side": Param(ParamType.INTEGER, help="shortest accepted side, pixels")},
    ),
    Rule(
        "image.aspect",
        check_aspect,
        {
            "min_ratio": Param(ParamType.NUMBER, help="narrowest width/height (inclusive)"),
            "max_ratio": Param(ParamType.NUMBER, help="widest width/height (inclusive)"),
        },
    ),
)
