"""Frame sampling: FFmpeg decodes at reduced size straight into memory, at the asked rate."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from preflight.model.errors import FFmpegError
from preflight.vision.sampler import DEFAULT_MAX_SIDE, DEFAULT_RATE, geometry, sample


def test_geometry_fits_inside_max_side_with_even_sides() -> None:
    assert geometry(1920, 1080) == geometry(1920, 1080, DEFAULT_MAX_SIDE)
    g = geometry(1920, 1080)
    assert (g.sample_width, g.sample_height) == (640, 360)
    assert g.scale == pytest.approx(3.0)
    portrait = geometry(1080, 1920)
    assert (portrait.sample_width, portrait.sample_height) == (360, 640)
    odd = geometry(1281, 721)
    assert odd.sample_width % 2 == 0
    assert odd.sample_height % 2 == 0
    assert max(odd.sample_width, odd.sample_height) <= 640
    small = geometry(320, 240)  # never scaled up
    assert (small.sample_width, small.sample_height) == (320, 240)
    with pytest.raises(ValueError, match="positive"):
        geometry(0, 720)


def test_samples_arrive_at_the_rate_asked_for(media: Callable[[str], Path]) -> None:
    clip = media("ok")  # 4 s, 1280x720
    g = geometry(1280, 720)
    frames = list(sample(clip, g))
    assert len(frames) == pytest.approx(4 * DEFAULT_RATE, abs=1)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert frames[1].time - frames[0].time == pytest.approx(1 / DEFAULT_RATE)
    assert frames[0].image.shape == (360, 640)
    assert frames[0].image.dtype == np.uint8
    assert len(list(sample(clip, g, rate=2))) == pytest.approx(8, abs=1)


def test_colour_samples_and_a_window(media: Callable[[str], Path]) -> None:
    clip = media("ok")
    g = geometry(1280, 720, 320)
    frames = list(sample(clip, g, pix_fmt="bgr24", start=1.0, duration=2.0))
    assert frames[0].image.shape == (180, 320, 3)
    assert len(frames) == pytest.approx(2 * DEFAULT_RATE, abs=1)
    assert frames[0].time == pytest.approx(1.0)


def test_rotated_video_is_sampled_upright(face_media: Callable[[str], Path]) -> None:
    # stored turned a quarter, with a display matrix turning it back: the face is upright only
    # when rotation metadata is applied while decoding
    from preflight.vision.analysis import analyse_frames
    from preflight.vision.detector import HaarDetector

    # Haar finds only upright frontal faces (BlazeFace may find one lying on its side)
    g = geometry(1280, 720)
    upright = analyse_frames(
        sample(face_media("rotated"), g, rate=2), g, interval=0.5, detector=HaarDetector()
    )
    assert all(s.count == 1 for s in upright.samples)
    stored = geometry(720, 1280)  # the same pixels without the matrix: a face lying on its side
    sideways = analyse_frames(
        sample(face_media("sideways"), stored, rate=2), stored, interval=0.5,
        detector=HaarDetector(),
    )  # fmt: skip
    assert all(s.count == 0 for s in sideways.samples)


def test_nothing_is_written_to_disk(media: Callable[[str], Path], tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(media("ok").read_bytes())
    before = sorted(os.listdir(tmp_path))
    list(sample(clip, geometry(1280, 720)))
    assert sorted(os.listdir(tmp_path)) == before


def test_a_broken_file_raises_ffmpeg_error_with_stderr(tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    with pytest.raises(FFmpegError) as info:
        list(sample(bad, geometry(1280, 720)))
    assert info.value.argv
    assert info.value.stderr_tail


def test_rate_must_be_positive(media: Callable[[str], Path]) -> None:
    with pytest.raises(ValueError, match="rate"):
        next(sample(media("ok"), geometry(1280, 720), rate=0))


def _ffmpeg_children() -> list[int]:
    """Pids of FFmpeg processes whose parent is this test process (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                stat = fh.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == os.getpid() and name.startswith("ffmpeg"):
            found.append(int(entry))
    return found


def test_closing_early_stops_ffmpeg(media: Callable[[str], Path]) -> None:
    frames = sample(media("long"), geometry(1280, 720))  # 15 s clip
    first = next(frames)
    assert first.index == 0
    assert _ffmpeg_children(), "FFmpeg should still be decoding the rest"
    frames.close()  # type: ignore[attr-defined]
    assert _ffmpeg_children() == []
    assert not any(t.name == "preflight-frames" for t in threading.enumerate())
