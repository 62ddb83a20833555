"""The MP4/MOV fast path (`preflight.probing._isobmff`) against MediaInfo, field by field.

Every clip is made by FFmpeg into a temporary directory. For each, the fast path's reading and
MediaInfo's are compared on every field of the record, for equality; the table says whether the
fast path is expected to answer at all (it must decline HEVC, MPEG-4 Visual, PCM, VBR AAC,
fragments: MediaInfo reads those).
"""

from __future__ import annotations

import dataclasses
import os
import struct
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from preflight.probing import _isobmff, _mediainfo, probe
from preflight.probing._parsed import Parsed
from preflight.probing._sniff import sniff
from preflight.toolchain.binaries import ffmpeg_path

V = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1"]
A = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast"]
X265 = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"]
AAC = ["-c:a", "aac", "-shortest"]
A22 = ["-f", "lavfi", "-i", "sine=frequency=220:sample_rate=22050:duration=1"]
A3S = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3"]

# name -> (FFmpeg arguments, whether the fast path answers); "{name}" is another clip's path
# fmt: off
CLIPS: dict[str, tuple[list[str], bool]] = {
    "h264_bframes.mp4": ([*V, *A, "-c:v", "libx264", "-preset", "fast", *AAC], True),
    "h264_faststart.mov": ([*V, *A, *X264, *AAC, "-movflags", "+faststart"], True),
    "h264_main_bt709.mp4": ([*V, "-c:v", "libx264", "-profile:v", "main", "-color_trc", "bt709",
                             "-color_primaries", "bt709", "-colorspace", "bt709"], True),
    "h264_high10.mp4": ([*V, *X264, "-pix_fmt", "yuv420p10le"], True),
    "h264_444_odd.mov": (["-f", "lavfi", "-i", "testsrc=size=321x241:rate=25:duration=1", *X264,
                          "-pix_fmt", "yuv444p"], True),
    "full_range.mp4": ([*V, *X264, "-pix_fmt", "yuvj420p"], True),
    "sar_4_3.mp4": ([*V, *A, *X264, "-vf", "setsar=4/3", *AAC], True),
    "ntsc.mp4": (["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30000/1001:duration=1", *X264],
                 True),
    "fps_12_5.mp4": (["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=12.5:duration=1", *A, *X264,
                      "-c:a", "aac", "-b:a", "70k", "-shortest"], True),
    "vfr.mp4": (["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=2", "-vf",
                 "setpts='if(lt(N,20),N/30/TB,(20/30+(N-20)/15)/TB)'", "-fps_mode", "vfr", *X264],
                True),
    "two_audio.mp4": ([*V, *A, *A22,
                       "-map", "0", "-map", "1", "-map", "2", *X264, "-c:a:0", "aac",
                       "-c:a:1", "libmp3lame"], True),
    "audio_longer.mp4": ([*V, *A3S,
                          *X264, "-c:a", "aac"], True),
    "audio_only.m4a": ([*A, "-c:a", "aac", "-f", "ipod"], True),
    "rotated_90.mp4": (["-display_rotation", "90", "-i", "{h264_bframes.mp4}", "-c", "copy"], True),
    "rotated_180.mov": (["-display_rotation", "180", "-i", "{h264_faststart.mov}", "-c", "copy"],
                        True),
    "rotated_270_sar.mp4": (["-display_rotation", "-90", "-i", "{sar_4_3.mp4}", "-c", "copy"],
                            True),
    # AAC near a nominal rate: MediaInfo states the nominal one (96,112 b/s -> 96,000)
    "aac_96k.mp4": ([*V, *A, *X264, "-c:a", "aac", "-b:a", "96k", "-shortest"], True),
    "aac_192k_stereo.mp4": ([*V, *A, *X264, "-c:a", "aac", "-ac", "2", "-b:a", "192k",
                             "-shortest"], True),
    # MediaInfo reads these: another codec, PCM, VBR AAC, fragments
    "hevc.mp4": ([*V, *A, *X265, "-tag:v", "hvc1", *AAC], False),
    "mpeg4_mp3.mp4": ([*V, *A, "-c:v", "mpeg4", "-c:a", "libmp3lame", "-shortest"], False),
    "mp3_only.mp4": ([*V, *A, *X264, "-c:a", "libmp3lame", "-shortest"], False),
    "pcm.mov": ([*V, *A, *X264, "-c:a", "pcm_s16le", "-shortest"], False),
    "aac_vbr_stereo.mp4": ([*V, *A, *X264, "-c:a", "aac", "-ac", "2", "-ar", "44100", "-shortest"],
                           False),
    "fragmented.mp4": ([*V, *X264, "-movflags", "frag_keyframe+empty_moov"], False),
}
# fmt: on


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    folder = tmp_path_factory.mktemp("isobmff")

    def make(name: str) -> Path:
        target = folder / name
        if not target.exists():
            args = [
                str(make(a[1:-1])) if a.startswith("{") else a for a in CLIPS[name][0]
            ]  # fmt: skip
            cmd = [ffmpeg_path(), "-y", "-hide_banner", "-nostdin", "-loglevel", "error"]
            subprocess.run([*cmd, *args, str(target)], check=True, capture_output=True)
        return target

    return make


def _readings(path: Path) -> tuple[Parsed | None, Parsed]:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        sniffed = sniff(fh, size)
        fast = _isobmff.read(fh, size, sniffed)
        return fast, _mediainfo.read(fh, sniffed)


def _differences(fast: Parsed, slow: Parsed) -> Iterator[str]:
    for name in ("container", "duration", "bit_rate", "video_streams", "audio_streams"):
        yield from _compare(name, getattr(fast, name), getattr(slow, name))
    for name in ("other_streams", "truncated", "recognised", "image"):
        yield from _compare(name, getattr(fast, name), getattr(slow, name))
    for part in ("video", "audio"):
        ours, theirs = getattr(fast, part), getattr(slow, part)
        if ours is None or theirs is None:
            yield from _compare(part, ours, theirs)
            continue
        for field in dataclasses.fields(ours):
            mine, other = getattr(ours, field.name), getattr(theirs, field.name)
            yield from _compare(f"{part}.{field.name}", mine, other)


def _compare(name: str, mine: object, other: object) -> Iterator[str]:
    if mine != other:
        yield f"{name}: fast path {mine!r}, MediaInfo {other!r}"


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_fast_path_gives_mediainfo_s_record(clips: Callable[[str], Path], name: str) -> None:
    fast, slow = _readings(clips(name))
    if not CLIPS[name][1]:
        assert fast is None, "the fast path must leave this file to MediaInfo"
        return
    assert fast is not None, "the fast path declined a file it should read"
    assert list(_differences(fast, slow)) == []


def test_probe_gives_the_same_facts_with_the_fast_path_off(
    clips: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [clips(name) for name in ("h264_bframes.mp4", "rotated_270_sar.mp4", "hevc.mp4")]
    fast = [probe(p).to_dict() for p in paths]
    monkeypatch.setenv("PREFLIGHT_PROBE_FAST", "0")
    assert not _isobmff.enabled()
    assert [probe(p).to_dict() for p in paths] == fast


def _patched(data: bytes, box: bytes, offset: int, value: bytes) -> bytes:
    at = data.index(box) + offset
    return data[:at] + value + data[at + len(value) :]


def _hostile(data: bytes) -> dict[str, bytes]:
    """Header lies the fast path must meet with None (never an exception or a long loop)."""
    moov = data.index(b"moov") - 4
    return {
        "moov past the end": data[:moov] + struct.pack(">I", len(data)) + data[moov + 4 :],
        "64-bit size past the end": data[:moov]
        + struct.pack(">I4sQ", 1, b"moov", 1 << 62)
        + data[moov + 8 :],
        "sample count huge": _patched(data, b"stsz", 8, b"\xff\xff\xff\xff"),
        "time table count huge": _patched(data, b"stts", 8, b"\x7f\xff\xff\xff"),
        "child box size zero": _patched(data, b"trak", -4, b"\x00\x00\x00\x00"),
        "child box size one": _patched(data, b"mdia", -4, b"\x00\x00\x00\x01"),
        "SPS length past avcC": _patched(data, b"avcC", 10, b"\xff\xff"),
        "edit list long": _patched(data, b"elst", 8, b"\x00\x01\x00\x00"),
        "cut inside moov": data[: moov + 200],
    }


def test_hostile_headers_fall_back_without_raising(
    clips: Callable[[str], Path], tmp_path: Path
) -> None:
    data = clips("h264_faststart.mov").read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # the lies are written into a real index
    for what, bad in _hostile(data).items():
        path = tmp_path / "bad.mov"
        path.write_bytes(bad)
        with open(path, "rb") as fh:
            result = _isobmff.read(fh, len(bad), sniff(fh, len(bad)))
            assert fh.tell() == 0
        assert result is None, what


def test_moov_at_the_end_is_found_by_seeking_over_mdat(clips: Callable[[str], Path]) -> None:
    path = clips("h264_bframes.mp4")
    data = path.read_bytes()
    assert data.index(b"mdat") < data.index(b"moov")
    fast, slow = _readings(path)
    assert fast is not None
    assert fast.video is not None
    assert (fast.video.codec, fast.duration) == ("h264", slow.duration)
    assert os.environ.get("PREFLIGHT_PROBE_FAST") != "0"


@pytest.mark.parametrize("name", ["rotated_270_sar.mp4", "h264_444_odd.mov", "audio_only.m4a"])
def test_header_sizes_are_the_geometry_check_s_own_reading(
    clips: Callable[[str], Path], name: str
) -> None:
    """The fast path hands the header check the sizes `_geometry` would read from the file."""
    from preflight.probing._geometry import iso_video_header_sizes

    path = clips(name)
    fast, _ = _readings(path)
    assert fast is not None
    with open(path, "rb") as fh:
        assert fast.extra["iso_header_sizes"] == iso_video_header_sizes(fh, path.stat().st_size)


def test_probe_many_reads_fast_files_first_and_keeps_order(
    clips: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`probe_many` runs the fast path in its own thread and threads the rest: same results."""
    from preflight.probing import probe_many

    names = ["hevc.mp4", "h264_bframes.mp4", "pcm.mov", "sar_4_3.mp4", "fragmented.mp4"] * 2
    paths: list[str | os.PathLike[str]] = [clips(n) for n in names]
    fast = probe_many(paths, workers=2)
    monkeypatch.setenv("PREFLIGHT_PROBE_FAST", "0")
    slow = probe_many(paths, workers=2)
    assert [f.to_dict() for f in fast] == [s.to_dict() for s in slow]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fps", "stated"),
    [(25.0, 25.0), (24.99, 25.0), (25.03, 25.03), (29.97003, 29.97003), (29.96, 29.97),
     (23.97, 23.976), (59.95, 59.94), (18.182, 18.182), (12.5, 12.5)],
)  # fmt: skip
def test_frame_rates_near_a_nominal_one_are_stated_as_it(fps: float, stated: float) -> None:
    from preflight.probing._nominal import frame_rate

    assert frame_rate(fps) == pytest.approx(stated, abs=1e-9)


@pytest.mark.parametrize(
    ("bits", "aac", "avc"),
    [(96_112, 96_000, 96_112), (64_099, 64_099, 64_099), (70_648, 72_000, 70_648),
     (70_496, 70_496, 70_496), (46_000, 48_000, 46_000), (56_339_066, 56_339_066, 56_064_000),
     (58_000_000, 58_000_000, 58_000_000)],
)  # fmt: skip
def test_bit_rates_near_a_nominal_one_are_stated_as_it(bits: int, aac: int, avc: int) -> None:
    from preflight.probing._nominal import aac_bit_rate, avc_bit_rate

    assert (aac_bit_rate(bits), avc_bit_rate(bits)) == (aac, avc)
