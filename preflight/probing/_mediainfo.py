"""The MediaInfo backend: libmediainfo in-process (the library pymediainfo ships), headers only.

Parse depth: ``ParseSpeed=0`` reads the container's headers/index and no more (about 2 ms a clip,
against ~10 ms at pymediainfo's default 0.5), and on every generated fixture gives the same
duration, size, codec, dimensions, rotation, SAR, frame-rate mode, bit depth and transfer
characteristics as ``ParseSpeed=1``; only stream bit rates of Matroska/WebM and the duration of
index-less raw streams (ADTS AAC) need more. So a file whose duration is still unknown after the
header pass, and that has streams, is parsed once more at ``ParseSpeed=1``.

The file is handed over as an open file object (MediaInfo's buffer API), not a path: the library's
own path handling depends on the process locale and fails on non-ASCII names under ``LC_ALL=C``,
and the same code then reads remote inputs through a ranged reader. JSON output without
``Complete`` gives machine-readable values (seconds, bits/s, plain numbers) only. The library is
loaded once and its handles reused (`preflight.probing._libmediainfo`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any, BinaryIO

from preflight.model.errors import ProbeError, ToolNotFoundError
from preflight.model.facts import AudioStream, ImageInfo, VideoStream
from preflight.probing import _libmediainfo
from preflight.probing._geometry import (
    display_size,
    normalise_rotation,
    sar_from_float,
    sar_from_ratio,
    sar_text,
)
from preflight.probing._matroska import projection_roll
from preflight.probing._names import (
    IMAGE_CONTAINERS,
    container_from_mediainfo,
    mediainfo_audio_codec,
    mediainfo_transfer,
    mediainfo_video_codec,
)
from preflight.probing._parsed import Parsed
from preflight.probing._sniff import Sniff

__all__ = ["HEADER_PARSE_SPEED", "read"]

HEADER_PARSE_SPEED = 0.0
FULL_PARSE_SPEED = 1.0


@functools.cache
def _library_loads() -> bool:
    return _libmediainfo.available()


def _parse(fh: BinaryIO, speed: float) -> list[dict[str, Any]]:
    if not _library_loads():
        raise ToolNotFoundError(
            "libmediainfo could not be loaded (pymediainfo's wheels carry it; elsewhere install "
            "MediaInfo's library), so the mediainfo backend cannot run: use --backend ffprobe"
        )
    try:
        text = _libmediainfo.inform(fh, speed)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ProbeError(f"MediaInfo could not read it: {exc}") from exc
    try:
        data = json.loads(text) if text else {}
    except json.JSONDecodeError as exc:
        raise ProbeError(f"MediaInfo returned unreadable output: {exc}") from exc
    media = data.get("media") or {}
    tracks = media.get("track") or []
    return [t for t in tracks if isinstance(t, dict)]


def read(fh: BinaryIO, sniffed: Sniff) -> Parsed:
    """Parse the open file ``fh`` with MediaInfo into backend-neutral pieces."""
    tracks = _parse(fh, HEADER_PARSE_SPEED)
    general = next((t for t in tracks if t.get("@type") == "General"), {})
    has_streams = any(t.get("@type") in ("Video", "Audio") for t in tracks)
    if has_streams and _num(general.get("Duration")) is None:
        tracks = _parse(fh, FULL_PARSE_SPEED)
        general = next((t for t in tracks if t.get("@type") == "General"), {})
    parsed = _build(tracks, general, sniffed)
    if parsed.container in ("matroska", "webm") and parsed.video is not None:
        parsed = _with_matroska_rotation(parsed, fh)
    return parsed


def _with_matroska_rotation(parsed: Parsed, fh: BinaryIO) -> Parsed:
    """Apply the rotation MediaInfo does not report for Matroska (see `_matroska`)."""
    video = parsed.video
    roll = projection_roll(fh)
    if video is None or roll is None or video.rotation != 0:
        return parsed
    rotation = normalise_rotation(-roll)  # the roll is counter-clockwise, ours is clockwise
    if rotation == 0:
        return parsed
    sar = sar_from_ratio(video.sample_aspect_ratio)
    width, height = display_size(video.coded_width, video.coded_height, sar, rotation)
    turned = dataclasses.replace(video, rotation=rotation, width=width, height=height)
    return dataclasses.replace(parsed, video=turned)


def _build(tracks: list[dict[str, Any]], general: dict[str, Any], sniffed: Sniff) -> Parsed:
    container = container_from_mediainfo(_str(general.get("Format")), sniffed)
    videos = [t for t in tracks if t.get("@type") == "Video"]
    audios = [t for t in tracks if t.get("@type") == "Audio"]
    images = [t for t in tracks if t.get("@type") == "Image"]
    others = [t for t in tracks if t.get("@type") in ("Text", "Other")]
    extra = _extra(general)

    image = None
    if container in IMAGE_CONTAINERS and (images or videos):
        first = (images or videos)[0]
        image = ImageInfo(
            codec=mediainfo_video_codec(_str(first.get("Format"))),
            width=_int(first.get("Width")),
            height=_int(first.get("Height")),
        )
        videos = []
    return Parsed(
        container=container,
        duration=_num(general.get("Duration")),
        bit_rate=_int(general.get("OverallBitRate")),
        video=_video(videos[0]) if videos else None,
        audio=_audio(audios[0]) if audios else None,
        image=image,
        video_streams=len(videos),
        audio_streams=len(audios),
        other_streams=len(others),
        truncated=extra.get("IsTruncated") == "Yes",
        recognised=bool(general.get("Format")) or bool(videos or audios or images),
        extra={
            "format_name": general.get("Format"),
            "format_profile": general.get("Format_Profile"),
        },
    )


def _extra(general: dict[str, Any]) -> dict[str, Any]:
    extra = general.get("extra")
    return extra if isinstance(extra, dict) else {}


def _video(t: dict[str, Any]) -> VideoStream:
    width, height = _int(t.get("Width")), _int(t.get("Height"))
    sar = sar_from_float(_num(t.get("PixelAspectRatio")))
    rotation = normalise_rotation(_num(t.get("Rotation")))
    shown_w, shown_h = display_size(width, height, sar, rotation)
    depth = _int(t.get("BitDepth"))
    return VideoStream(
        codec=mediainfo_video_codec(_str(t.get("Format")), _str(t.get("Format_Version"))),
        width=shown_w,
        height=shown_h,
        coded_width=width,
        coded_height=height,
        rotation=rotation,
        sample_aspect_ratio=sar_text(sar),
        profile=_profile(_str(t.get("Format_Profile")), _str(t.get("Format"))),
        pix_fmt=_pix_fmt(t, depth),
        bit_depth=depth,
        frame_rate=_num(t.get("FrameRate")),
        variable_frame_rate=t.get("FrameRate_Mode") == "VFR",
        duration=_num(t.get("Duration")),
        bit_rate=_int(t.get("BitRate")),
        frame_count=_int(t.get("FrameCount")),
        color_transfer=mediainfo_transfer(_str(t.get("transfer_characteristics"))),
    )


def _audio(t: dict[str, Any]) -> AudioStream:
    return AudioStream(
        codec=mediainfo_audio_codec(
            _str(t.get("Format")),
            profile=_str(t.get("Format_Profile")),
            bit_depth=_int(t.get("BitDepth")),
            endianness=_str(t.get("Format_Settings_Endianness")),
            sign=_str(t.get("Format_Settings_Sign")),
            codec_id=_str(t.get("CodecID")),
        ),
        sample_rate=_int(t.get("SamplingRate")),
        channels=_int(t.get("Channels")),
        duration=_num(t.get("Duration")),
        bit_rate=_int(t.get("BitRate")),
    )


_CHROMA = {"4:2:0": "420", "4:2:2": "422", "4:4:4": "444", "4:1:1": "411", "4:4:0": "440"}


def _pix_fmt(t: dict[str, Any], depth: int | None) -> str | None:
    space = _str(t.get("ColorSpace"))
    chroma = _CHROMA.get(_str(t.get("ChromaSubsampling")) or "")
    suffix = "" if depth in (None, 8) else f"{depth}le"
    if chroma is not None and space in (None, "YUV"):
        full = t.get("colour_range") == "Full" and not suffix
        return f"yuv{'j' if full else ''}{chroma}p{suffix}"
    if space == "Y":
        return f"gray{suffix}"
    return None


def _profile(text: str | None, fmt: str | None) -> str | None:
    """MediaInfo's profile in FFmpeg's words ("0" -> "Profile 0", "Simple" -> "Simple Profile")."""
    if text is None:
        return None
    if text.isdigit():
        return f"Profile {text}"
    if fmt == "MPEG-4 Visual" and not text.endswith("Profile"):
        return f"{text} Profile"
    return text


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _num(value: Any) -> float | None:
    try:
        return float(str(value).split(" / ")[0]) if value not in (None, "") else None
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else round(number)
