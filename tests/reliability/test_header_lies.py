"""Attack 6: an MP4 whose headers lie about the picture size.

Before: with the track header (`tkhd`) and sample description saying 16384x16384 over 1280x720
H.264 frames, the MediaInfo backend said FAIL (too large) and the ffprobe backend PASS, and `fix`
"scaled" 16:9 content to a 1920x1920 square. Now both backends judge by the stream (what a decoder
shows), say in a warning that the header disagrees, and `fix` keeps the display aspect ratio.
"""

from __future__ import annotations

import json
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from preflight.checking.check import check
from preflight.fixing import fix
from preflight.model.facts import VideoStream
from preflight.probing import probe
from preflight.probing._geometry import iso_header_conflict

Media = Callable[[str], Path]
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def _patch_sizes(
    data: bytearray, start: int, end: int, size: int, *, tkhd: bool, entry: bool
) -> None:
    """Overwrite every tkhd width/height and the first sample entry's (an independent walker)."""
    pos = start
    while pos + 8 <= end:
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if length < 8:
            return
        if kind in CONTAINERS:
            _patch_sizes(data, pos + 8, pos + length, size, tkhd=tkhd, entry=entry)
        elif kind == b"tkhd" and tkhd:
            at = pos + 8 + (88 if data[pos + 8] == 1 else 76)
            if struct.unpack(">I", data[at : at + 4])[0]:  # video tracks only (audio says 0)
                data[at : at + 8] = struct.pack(">II", size << 16, size << 16)
        elif kind == b"stsd" and entry:
            first = pos + 16  # full box header + entry count
            if data[first + 4 : first + 8] in (b"avc1", b"hvc1", b"hev1"):
                data[first + 32 : first + 36] = struct.pack(">HH", size, size)
        pos += length


def lying_copy(
    src: Path, dst: Path, *, size: int = 16384, tkhd: bool = True, entry: bool = True
) -> Path:
    data = bytearray(src.read_bytes())
    _patch_sizes(data, 0, len(data), size, tkhd=tkhd, entry=entry)
    assert data != src.read_bytes()
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("backend", ["mediainfo", "ffprobe"])
@pytest.mark.parametrize("where", ["both", "tkhd"])
def test_both_backends_judge_the_stream_and_warn(
    media: Media, tmp_path: Path, backend: str, where: str
) -> None:
    liar = lying_copy(media("ok"), tmp_path / "liar.mp4", entry=where == "both")
    facts = probe(liar, backend=backend, cache=False)
    assert facts.video is not None
    assert (facts.video.width, facts.video.height) == (1280, 720)
    report = check([liar], "kling-lipsync", backend=backend, cache=False, face=False,
                   text="hi", voice_id="genshin_klee2", voice_language="en")  # fmt: skip
    (result,) = report.results
    assert result.ok  # a decoder shows 1280x720: it passes
    warned = [f for f in result.findings if "16384x16384" in f.message]
    assert [f.severity.value for f in warned] == ["warning"]
    assert "1280x720" in warned[0].message


def test_fix_keeps_the_aspect_ratio_of_what_a_decoder_shows(
    media: Media, tmp_path: Path, ffprobe_bin: str
) -> None:
    liar = lying_copy(media("wide_1922"), tmp_path / "wide_liar.mp4")  # really 1922x1080: too wide
    out = tmp_path / "fixed.mp4"
    result = fix(liar, profile="kling-lipsync", output=str(out))
    assert result.ok, result.message
    shown = json.loads(subprocess.run(
        [ffprobe_bin, "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height,sample_aspect_ratio", "-of", "json", str(out)],
        capture_output=True, check=True,
    ).stdout)["streams"][0]  # fmt: skip
    assert shown["sample_aspect_ratio"] in ("1:1", "N/A", "0:1")
    assert shown["width"] <= 1920
    assert shown["width"] / shown["height"] == pytest.approx(1922 / 1080, rel=0.01)  # not 1:1
    assert liar.read_bytes() != out.read_bytes()


@pytest.mark.parametrize(
    "name", ["ok", "anamorphic", "rotated", "odd", "ok_mov", "portrait_narrow"]
)
def test_honest_files_raise_no_header_warning(media: Media, name: str) -> None:
    facts = probe(media(name), cache=False)
    assert "geometry_conflict" not in facts.extra


def _stream(w: int, h: int, sar: str = "1:1") -> VideoStream:
    return VideoStream(codec="h264", width=w, height=h, coded_width=w, coded_height=h,
                       sample_aspect_ratio=sar)  # fmt: skip


@pytest.mark.parametrize(
    ("stream", "tkhd", "entry", "warns"),
    [
        (_stream(1280, 720), (1280, 720), (1280, 720), False),
        (_stream(1920, 1080), (1920, 1080), (1920, 1088), False),  # codec padding
        (_stream(1440, 1080, "4:3"), (1920, 1080), (1440, 1080), False),  # anamorphic
        (_stream(1280, 720), (16384, 16384), (1280, 720), True),
        (_stream(1280, 720), (1280, 720), (16384, 16384), True),
        (_stream(1280, 720), (720, 1280), None, True),  # sides swapped in the header
        (_stream(1280, 720), None, None, False),
    ],
)
def test_iso_header_conflict(
    stream: VideoStream, tkhd: tuple[int, int] | None, entry: tuple[int, int] | None, warns: bool
) -> None:
    assert (iso_header_conflict(stream, tkhd, entry) is not None) is warns
