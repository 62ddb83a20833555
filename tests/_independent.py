"""An independent reading of a fixed output: ffprobe's JSON parsed here, not preflight's probe.

`assert_passes` compares that reading with a profile's limits (taken from the profile, so a
profile change moves the test with it).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preflight.model.profile import Profile


@dataclass(frozen=True)
class Reading:
    format_names: set[str]
    size: int
    duration: float
    vcodec: str | None
    pix_fmt: str | None
    width: int | None  # display size: rotation and SAR applied
    height: int | None
    rotation: int
    frames: int | None
    frame_rate: str | None
    acodec: str | None
    audio_duration: float | None
    raw: dict[str, Any]


def read(ffprobe: str, path: Path) -> Reading:
    out = subprocess.run(
        [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         "-count_packets", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    data = json.loads(out)
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    fmt = data["format"]
    width = height = None
    rotation = 0
    duration = float(fmt.get("duration", 0))
    if video is not None:
        for side in video.get("side_data_list", []):
            if "rotation" in side:
                rotation = int(side["rotation"]) % 360
        width, height = int(video["width"]), int(video["height"])
        sar = video.get("sample_aspect_ratio", "1:1")
        if sar not in ("1:1", "0:1", "N/A"):
            num, den = (int(x) for x in sar.split(":"))
            width = round(width * num / den)
        if rotation in (90, 270):
            width, height = height, width
        if "duration" in video:
            duration = float(video["duration"])
    return Reading(
        format_names=set(fmt["format_name"].split(",")), size=int(fmt["size"]),
        duration=duration, vcodec=video["codec_name"] if video else None,
        pix_fmt=video.get("pix_fmt") if video else None, width=width, height=height,
        rotation=rotation,
        frames=int(video["nb_read_packets"]) if video and "nb_read_packets" in video else None,
        frame_rate=video.get("avg_frame_rate") if video else None,
        acodec=audio["codec_name"] if audio else None,
        audio_duration=float(audio["duration"]) if audio and "duration" in audio else None,
        raw=data,
    )  # fmt: skip


def _bounds(profile: Profile, rule: str) -> tuple[float | None, float | None]:
    if not profile.enabled(rule):
        return None, None
    return profile.param(rule, "min", None), profile.param(rule, "max", None)


def assert_passes(reading: Reading, path: Path, profile: Profile) -> None:
    """The output is a video the profile accepts, by ffprobe's account."""
    allowed = set(profile.param("video.container", "allowed", ["mp4", "mov"]))
    assert reading.format_names & {"mp4", "mov"}, reading.format_names
    assert "mp4" in allowed or "mov" in allowed
    assert path.suffix.lstrip(".") in profile.param("video.container", "extensions", ["mp4"])
    assert reading.vcodec in profile.param("video.codec", "allowed", ["h264", "hevc"])
    for rule, value in (("video.width", reading.width), ("video.height", reading.height),
                        ("video.duration", round(reading.duration, 3))):  # fmt: skip
        low, high = _bounds(profile, rule)
        assert value is not None
        if low is not None:
            assert value >= low, (rule, value, low)
        if high is not None:
            assert value <= high, (rule, value, high)
    limit = profile.param("video.size", "max_bytes", None)
    if limit is not None:
        assert reading.size <= limit
        assert path.stat().st_size == reading.size


def assert_reencoded(reading: Reading) -> None:
    """What every re-encode promises: H.264 yuv420p 8-bit, even sides, no rotation left."""
    assert reading.vcodec == "h264"
    assert reading.pix_fmt == "yuv420p"
    assert reading.rotation == 0
    assert reading.width is not None
    assert reading.height is not None
    assert reading.width % 2 == 0
    assert reading.height % 2 == 0
