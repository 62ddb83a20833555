"""The YuNet detector: the shipped model, faces of all sizes, landmarks, work per sample."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from preflight.vision.analysis import analyse
from preflight.vision.detector import YUNET_MODEL, Box, YuNetDetector, yunet_path

# the astronaut's face in scikit-image's 512 px portrait: x, y, w, h
FACE = (178, 63, 90, 113)


def portrait_sample(size: int) -> tuple[Any, tuple[float, float]]:
    """The portrait at ``size`` px centred on a grey 1280x720 frame, reduced to the 640x360
    sample the analysis sees, and its face's centre in the sample."""
    import cv2
    import skimage.data

    image = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    frame = np.full((720, 1280, 3), 128, dtype=np.uint8)
    x0, y0 = (1280 - size) // 2, (720 - size) // 2
    frame[y0 : y0 + size, x0 : x0 + size] = cv2.resize(image, (size, size))
    k = size / 512
    centre = ((x0 + (FACE[0] + FACE[2] / 2) * k) / 2, (y0 + (FACE[1] + FACE[3] / 2) * k) / 2)
    return cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA), centre


def contains(box: Box, point: tuple[float, float]) -> bool:
    return box.x <= point[0] <= box.x + box.w and box.y <= point[1] <= box.y + box.h


def test_the_model_ships_with_its_licence_and_checksum() -> None:
    path = Path(yunet_path())
    assert path.name == YUNET_MODEL
    data = path.read_bytes()
    assert len(data) == 229738
    digest = hashlib.sha256(data).hexdigest()
    assert digest == "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0"
    licence = (path.parent / "LICENSE-yunet").read_text(encoding="utf-8")
    assert licence.startswith("MIT License")
    assert digest in (path.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("size", [130, 220, 400, 700])
def test_faces_from_23_px_up_are_found_with_landmarks(size: int) -> None:
    sample, centre = portrait_sample(size)
    (face,) = YuNetDetector().detect(sample)
    assert contains(face, centre)
    assert face.score is not None
    assert face.score > 0.6
    left_eye, right_eye, nose, left_mouth, right_mouth = face.landmarks
    assert left_eye[0] < nose[0] < right_eye[0]
    assert left_mouth[0] < right_mouth[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(left_mouth[1], right_mouth[1])


def test_a_face_under_ten_sample_pixels_is_not_found() -> None:
    # the portrait at 60 px: its face is ~11 display px, 5 in the sample (too small for any face
    # detector; face.present then reports it missing)
    sample, _ = portrait_sample(60)
    assert YuNetDetector().detect(sample) == []


def test_nothing_on_noise_flat_grey_or_gray_input() -> None:
    noise = np.random.default_rng(1).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    assert YuNetDetector().detect(noise) == []
    assert YuNetDetector().detect(np.full((360, 640), 128, dtype=np.uint8)) == []


def test_gray_frames_are_accepted() -> None:
    import cv2

    sample, centre = portrait_sample(400)
    (face,) = YuNetDetector().detect(cv2.cvtColor(sample, cv2.COLOR_BGR2GRAY))
    assert contains(face, centre)


def test_a_large_face_is_searched_at_half_size_next_time() -> None:
    sample, centre = portrait_sample(700)  # face ~62 sample px: over half_from (48)
    detector = YuNetDetector()
    (first,) = detector.detect(sample)
    (second,) = detector.detect(sample)
    assert list(detector._models) == [(320, 320), (640, 360), (320, 180)]
    assert contains(second, centre)
    assert abs(second.w - first.w) <= 0.15 * first.w
    # without the shortcut only the full size is ever searched
    exact = YuNetDetector(half_from=None)
    exact.detect(sample)
    exact.detect(sample)
    assert list(exact._models) == [(320, 320), (640, 360)]


class Counting(YuNetDetector):
    """YuNet that counts its passes per input size."""

    def __init__(self) -> None:
        super().__init__()
        self.passes: dict[tuple[int, int], int] = {}

    def _run(self, bgr: Any) -> Any:
        size = (int(bgr.shape[1]), int(bgr.shape[0]))
        self.passes[size] = self.passes.get(size, 0) + 1
        return super()._run(bgr)


def test_detection_work_per_sample_stays_small(face_media: Callable[[str], Path]) -> None:
    # the speed budget (face checks within 10% of a clip's duration) rests on this: one
    # quarter-size pass per sample while a large face stays in view, one full pass otherwise
    detector = Counting()
    a = analyse(face_media("still"), 1280, 720, detector=detector)
    assert len(a.samples) == 16
    assert all(s.count == 1 for s in a.samples)
    assert detector.passes == {(640, 360): 1, (320, 180): 15}
    none = Counting()
    b = analyse(face_media("none"), 1280, 720, detector=none)
    # without a face: a full pass, and a quarter-size one for a face too large for the full pass
    assert none.passes == {(640, 360): len(b.samples), (320, 180): len(b.samples)}


def test_a_model_opencv_cannot_read_is_a_vision_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # checks.py turns VisionUnavailableError into a "face checks skipped" finding, never a crash
    from preflight.vision import detector as module
    from preflight.vision.detector import VisionUnavailableError

    broken = tmp_path / YUNET_MODEL
    broken.write_bytes(b"not an onnx file")
    monkeypatch.setattr(module, "yunet_path", lambda: str(broken))
    with pytest.raises(VisionUnavailableError, match="could not load the face model"):
        YuNetDetector()
