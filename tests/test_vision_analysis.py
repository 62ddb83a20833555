"""Face measurements on real clips made from scikit-image's portrait (no downloads)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from preflight.vision.analysis import (
    FaceAnalysis,
    FaceBox,
    FaceSample,
    analyse,
    analyse_with_frames,
    measure,
)
from preflight.vision.detector import BlazeFaceDetector, Box, HaarDetector

FaceJob = Callable[[str], Any]


def face(job: Any) -> FaceAnalysis:
    found = job.analysis["face"]
    assert isinstance(found, FaceAnalysis), found
    return found


def test_one_clear_face_in_every_sample(face_job: FaceJob) -> None:
    a = face(face_job("still"))
    assert (a.width, a.height, a.sample_width, a.sample_height) == (1280, 720, 640, 360)
    assert a.interval == 0.25
    assert a.duration == pytest.approx(4.0, abs=0.05)
    assert a.detector == BlazeFaceDetector.name
    assert len(a.samples) == 16
    assert all(s.count == 1 for s in a.samples)
    for s in a.samples:
        assert s.face is not None
        # the portrait is 720 px high, its face ~90/512 of that, centred horizontally
        assert 110 <= s.face.side <= 160
        cx, _ = s.face.centre
        assert abs(cx - 640) < 60
        assert s.luma is not None
        assert 120 < s.luma < 190
        assert s.contrast is not None
        assert s.contrast > 30
        assert s.sharpness is not None
        assert s.sharpness > 200
    assert a.samples[0].shift is None  # nothing to compare the first sample with
    assert all(s.shift is not None and s.shift < 0.1 for s in a.samples[1:])


def test_no_face(face_job: FaceJob) -> None:
    a = face(face_job("none"))
    assert a.samples
    assert all(s.face is None and s.luma is None and s.sharpness is None for s in a.samples)


def test_two_faces(face_job: FaceJob) -> None:
    a = face(face_job("two"))
    assert all(s.count == 2 for s in a.samples)
    left, right = sorted(a.samples[0].faces, key=lambda f: f.x)
    assert right.x - left.x == pytest.approx(640, abs=30)  # the portrait beside itself


def test_sizes_are_in_display_pixels(face_job: FaceJob, face_media: Callable[[str], Path]) -> None:
    small = face(face_job("tiny"))
    sides = [s.face.side for s in small.samples if s.face]
    assert len(sides) == len(small.samples)
    assert min(sides) >= 60
    assert max(sides) <= 95
    # the same clip analysed at another sample size maps back to about the same display size
    finer = analyse(face_media("tiny"), 1280, 720, max_side=960)
    finer_sides = [s.face.side for s in finer.samples if s.face]
    assert np.median(finer_sides) == pytest.approx(np.median(sides), rel=0.15)


def test_dark_and_blurred_faces_measure_as_such(face_job: FaceJob) -> None:
    clear = face(face_job("still")).samples[0]
    dark = face(face_job("dark")).samples[0]
    blurred = face(face_job("blurred")).samples[0]
    assert dark.face is not None
    assert blurred.face is not None
    assert dark.luma is not None
    assert clear.luma is not None
    assert dark.luma < 40 < clear.luma
    assert blurred.sharpness is not None
    assert clear.sharpness is not None
    assert blurred.sharpness < clear.sharpness / 10


def test_a_jump_shows_as_movement(face_job: FaceJob) -> None:
    a = face(face_job("jump"))
    shifts = [s.shift or 0.0 for s in a.samples]
    jump = int(np.argmax(shifts))
    assert a.samples[jump].time == pytest.approx(2.0, abs=a.interval)
    assert shifts[jump] > 3  # 680 px across with a ~110 px face
    assert all(x < 0.2 for i, x in enumerate(shifts) if i != jump)


def test_face_that_leaves(face_job: FaceJob) -> None:
    a = face(face_job("leaves"))
    missing = [s.time for s in a.samples if s.face is None]
    assert missing[0] == pytest.approx(3.0, abs=a.interval)
    assert missing[-1] + a.interval == pytest.approx(5.0, abs=a.interval)
    # movement is only measured between samples that both show a face
    back = next(s for s in a.samples if s.time > 4.9 and s.face is not None)
    assert back.shift is None


def test_frames_for_a_contact_sheet(face_media: Callable[[str], Path]) -> None:
    a, frames = analyse_with_frames(face_media("still"), 1280, 720, rate=2)
    assert len(frames) == len(a.samples) == 8
    assert frames[0].shape == (180, 320, 3)  # colour thumbnails, at most 320 px
    gray_only, none = analyse_with_frames(face_media("still"), 1280, 720, rate=2, keep=False)
    assert none == []
    assert [s.count for s in gray_only.samples] == [s.count for s in a.samples]


def test_measure_on_synthetic_patches() -> None:
    rng = np.random.default_rng(0)
    flat = np.full((100, 100), 80, dtype=np.uint8)
    noisy = rng.integers(0, 255, size=(100, 100), dtype=np.uint8)
    box = Box(10, 10, 64, 64)
    m_flat, m_noisy = measure(flat, box), measure(noisy, box)
    assert m_flat.luma == pytest.approx(80)
    assert m_flat.contrast == pytest.approx(0)
    assert m_flat.sharpness == pytest.approx(0)
    assert m_noisy.contrast > 50
    assert m_noisy.sharpness > 1000


def test_results_are_frozen_and_serialisable(face_job: FaceJob) -> None:
    a = face(face_job("still"))
    with pytest.raises(AttributeError):
        a.interval = 1.0  # type: ignore[misc]
    data = a.to_dict()
    assert data["samples"][0]["faces"][0]["w"] > 0
    assert data["interval"] == 0.25
    box = FaceBox(10, 20, 30, 40)
    assert box.side == 30
    assert box.centre == (25, 40)
    assert FaceSample(0, 0.0).face is None


def test_small_faces_are_searched_only_when_no_large_one_is_found() -> None:
    import cv2
    import skimage.data

    gray = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2GRAY)
    big, small = cv2.resize(gray, (300, 300)), cv2.resize(gray, (170, 170))
    canvas = np.full((360, 640), 128, dtype=np.uint8)
    canvas[30:330, 20:320] = big  # face ~56 px: above 12% of 360 (43 px)
    alone = canvas.copy()
    alone[30:330, 20:320] = 128
    alone[100:270, 420:590] = small  # face ~32 px: found by the second pass
    both = canvas.copy()
    both[100:270, 420:590] = small
    detector = HaarDetector()
    (only_small,) = detector.detect(alone)
    assert only_small.x > 400
    assert only_small.w < 43
    (large,) = detector.detect(both)  # the small face beside it is background
    assert large.x < 320
    assert large.w >= 43
