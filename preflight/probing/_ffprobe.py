"""The ffprobe backend: ``ffprobe -v error -show_format -show_streams -of json``.

Costs a process start per input (~50 ms), so it is the fallback and the cross-check, not the
default. Local paths are passed as ``file:/absolute/path`` so a name starting with ``-`` or
holding a ``:`` is never read as an option or a protocol.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from fractions import Fraction
from typing import Any

from preflight.model.errors import ProbeError
from preflight.model.facts import AudioStream, ImageInfo, VideoStream
from preflight.probing._geometry import display_size, normalise_rotation, sar_from_ratio, sar_text
from preflight.probing._names import IMAGE_CONTAINERS, container_from_ffprobe
from preflight.probing._parsed import Parsed
from preflight.probing._sniff import Sniff

__all__ = ["TIMEOUT_S", "read", "run_ffprobe"]

TIMEOUT_S = 60.0
_VFR_TOLERANCE = 0.01  # r_frame_rate vs avg_frame_rate: more than 1 % apart means variable
_DEPTH = re.compile(r"(\d+)(?:le|be)$")


def _target(path: str) -> str:
    if "://" in path:
        return path
    return "file:" + os.path.abspath(path)


def run_ffprobe(path: str) -> dict[str, Any]:
    """Run ffprobe on a path or URL and return its parsed JSON. Raises ProbeError on failure."""
    from preflight.toolchain.binaries import ffprobe_path

    target = _target(path)
    argv = [ffprobe_path(), "-v", "error", "-show_format", "-show_streams", "-of", "json"]
    if "://" in path:
        argv += ["-rw_timeout", str(int(TIMEOUT_S * 1_000_000))]  # microseconds
    argv.append(target)
    try:
        done = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(f"ffprobe took longer than {TIMEOUT_S:.0f} s") from exc
    except OSError as exc:
        raise ProbeError(f"ffprobe could not be started: {exc}") from exc
    if done.returncode != 0:
        raise ProbeError(f"ffprobe could not read it: {_tail(done.stderr, target)}")
    try:
        data = json.loads(done.stdout or b"{}")
    except json.JSONDecodeError as exc:
        raise ProbeError(f"ffprobe returned unreadable output: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _tail(stderr: bytes, target: str) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    if not lines:
        return "no reason given"
    last = lines[-1]
    for prefix in (f"{target}: ", f"{target.removeprefix('file:')}: "):
        last = last.removeprefix(prefix)
    return last


def read(path: str, sniffed: Sniff) -> Parsed:
    """Probe ``path`` (a local path or URL) with ffprobe into backend-neutral pieces."""
    data = run_ffprobe(path)
    fmt = data.get("format") or {}
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]
    container = container_from_ffprobe(_str(fmt.get("format_name")), sniffed)
    pictures = [s for s in streams if (s.get("disposition") or {}).get("attached_pic") == 1]
    videos = [s for s in streams if s.get("codec_type") == "video" and s not in pictures]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    others = [s for s in streams if s.get("codec_type") in ("subtitle", "data")]

    image = None
    duration = _num(fmt.get("duration"))
    bit_rate = _int(fmt.get("bit_rate"))
    if container in IMAGE_CONTAINERS and videos:
        first = videos[0]
        width, height = _int(first.get("width")) or None, _int(first.get("height")) or None
        if (width is None or height is None) and sniffed.image_size is not None:
            width, height = sniffed.image_size  # an ffprobe built without this image decoder
        image = ImageInfo(_str(first.get("codec_name")), width, height)
        videos = []
        duration = bit_rate = None  # image2 invents a one-frame duration: an image has none
    return Parsed(
        container=container,
        duration=duration,
        bit_rate=bit_rate,
        video=_video(videos[0]) if videos else None,
        audio=_audio(audios[0]) if audios else None,
        image=image,
        video_streams=len(videos),
        audio_streams=len(audios),
        other_streams=len(others),
        recognised=bool(streams),
        extra={"format_name": fmt.get("format_name")},
    )


def _video(s: dict[str, Any]) -> VideoStream:
    width, height = _int(s.get("width")) or None, _int(s.get("height")) or None
    sar = sar_from_ratio(_str(s.get("sample_aspect_ratio")))
    rotation = normalise_rotation(_rotation_cw(s))
    shown_w, shown_h = display_size(width, height, sar, rotation)
    pix_fmt = _str(s.get("pix_fmt"))
    avg = _rate(s.get("avg_frame_rate"))
    real = _rate(s.get("r_frame_rate"))
    return VideoStream(
        codec=_str(s.get("codec_name")),
        width=shown_w,
        height=shown_h,
        coded_width=width,
        coded_height=height,
        rotation=rotation,
        sample_aspect_ratio=sar_text(sar),
        profile=_str(s.get("profile")),
        pix_fmt=pix_fmt,
        bit_depth=_bit_depth(s, pix_fmt),
        frame_rate=None if avg is None else round(float(avg), 3),
        variable_frame_rate=_variable(avg, real),
        duration=_stream_duration(s),
        bit_rate=_int(s.get("bit_rate")),
        frame_count=_int(s.get("nb_frames")),
        color_transfer=_str(s.get("color_transfer")),
    )


def _audio(s: dict[str, Any]) -> AudioStream:
    return AudioStream(
        codec=_str(s.get("codec_name")),
        sample_rate=_int(s.get("sample_rate")),
        channels=_int(s.get("channels")),
        duration=_stream_duration(s),
        bit_rate=_int(s.get("bit_rate")),
    )


def _rotation_cw(s: dict[str, Any]) -> float | None:
    """Clockwise display rotation. The display matrix's ``rotation`` is counter-clockwise."""
    for side in s.get("side_data_list") or []:
        if isinstance(side, dict) and side.get("rotation") is not None:
            value = _num(side.get("rotation"))
            return None if value is None else -value
    tags = s.get("tags") or {}
    return _num(tags.get("rotate"))  # old FFmpeg: the tag is already clockwise


def _rate(text: Any) -> Fraction | None:
    try:
        rate = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        return None
    return rate if rate > 0 else None


def _variable(avg: Fraction | None, real: Fraction | None) -> bool:
    if avg is None or real is None:
        return False
    return abs(float(avg - real)) > _VFR_TOLERANCE * float(real)


def _bit_depth(s: dict[str, Any], pix_fmt: str | None) -> int | None:
    raw = _int(s.get("bits_per_raw_sample"))
    if raw:
        return raw
    if pix_fmt is None:
        return None
    match = _DEPTH.search(pix_fmt)
    if match:
        return int(match.group(1))
    return 8 if pix_fmt.startswith(("yuv", "gray", "nv12", "rgb", "bgr", "gbrp")) else None


def _stream_duration(s: dict[str, Any]) -> float | None:
    value = _num(s.get("duration"))
    if value is not None:
        return value
    tags = s.get("tags") or {}
    text = tags.get("DURATION") or tags.get("duration")  # Matroska keeps it as a tag
    if not isinstance(text, str):
        return None
    try:
        hours, minutes, seconds = text.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text if text and text not in ("unknown", "N/A") else None


def _num(value: Any) -> float | None:
    if value in (None, "", "N/A"):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else round(number)
