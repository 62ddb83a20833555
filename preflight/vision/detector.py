"""The CPU face detectors: YuNet (the default) and OpenCV's Haar cascade (for comparison).

`YuNetDetector` runs OpenCV Zoo's YuNet model through ``cv2.FaceDetectorYN``: boxes, scores and
five landmarks (eyes, nose tip, mouth corners). The model file (~230 KB, MIT) ships inside
preflight as package data (``preflight/vision/models/``), so nothing is downloaded at run time.
`HaarDetector` (``haarcascade_frontalface_alt2``, inside the ``opencv-python-headless`` wheel) is
kept for ``benchmarks/face_detectors.py``. Why YuNet: ``docs/vision.md``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from preflight.model.errors import PreflightError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "CASCADE",
    "YUNET_MODEL",
    "Box",
    "Detector",
    "HaarDetector",
    "VisionUnavailableError",
    "YuNetDetector",
    "require_vision",
    "yunet_path",
]

CASCADE = "haarcascade_frontalface_alt2.xml"
YUNET_MODEL = "face_detection_yunet_2026may.onnx"
INSTALL_HINT = "install media-preflight[vision]"


class VisionUnavailableError(PreflightError):
    """The optional vision extra (OpenCV, NumPy) is not installed."""


def require_vision() -> Any:
    """Import and return ``cv2``; raise VisionUnavailableError with the install hint if missing."""
    try:
        import cv2
        import numpy  # noqa: F401
    except ImportError as exc:
        raise VisionUnavailableError(f"face checks need OpenCV: {INSTALL_HINT}") from exc
    return cv2


@dataclass(frozen=True, slots=True)
class Box:
    """A face box in the pixels of the image it was found in: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int
    score: float | None = None  # the detector's confidence, 0-1 (Haar gives none)
    # eyes, nose tip, mouth corners as (x, y) in the same pixels; empty when the detector gives
    # none (Haar). Order: the eye and mouth corner on the image's left first.
    landmarks: tuple[tuple[float, float], ...] = ()

    @property
    def area(self) -> int:
        return self.w * self.h


class Detector(Protocol):
    """What the analysis needs of a face detector."""

    name: str
    colour: bool  # True: `detect` wants BGR frames (gray ones still work, converted)

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        """Every face in ``image``, largest first."""
        ...


@functools.cache
def _cascade(name: str) -> Any:
    cv2 = require_vision()
    path = os.path.join(cv2.data.haarcascades, name)
    classifier = cv2.CascadeClassifier(path)
    if classifier.empty():
        raise VisionUnavailableError(f"OpenCV's face model {path} could not be loaded")
    return classifier


class HaarDetector:
    """Frontal faces in a grayscale image, largest first.

    ``min_size`` is the smallest face side searched for, in the image's pixels (the cascade's own
    window is 20 px; below ~24 px detections are unreliable). ``scale_factor`` and
    ``min_neighbors`` are OpenCV's: 1.15 and 5 find the test portrait in every frame without
    false positives on FFmpeg's busy ``testsrc2`` pattern.

    Two passes, because small windows cost the most: first faces of at least ``large_share`` of
    the image's shorter side (the size a lip-sync face should have anyway); only when none is
    found, the smaller ones down to ``min_size``. So a small face beside a large one is not
    counted: it is background, not a second speaker.
    """

    name = "opencv-haar-frontalface-alt2"
    colour = False

    def __init__(
        self,
        *,
        min_size: int = 24,
        scale_factor: float = 1.15,
        min_neighbors: int = 5,
        large_share: float = 0.12,
    ) -> None:
        self._classifier = _cascade(CASCADE)
        self.min_size = min_size
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.large_share = large_share

    def _find(self, gray: npt.NDArray[np.uint8], smallest: int, largest: int | None) -> Any:
        return self._classifier.detectMultiScale(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(smallest, smallest),
            maxSize=(largest, largest) if largest else (0, 0),
        )

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        """Every face found in ``image`` (gray or BGR uint8), largest first."""
        gray = image
        if image.ndim == 3:
            gray = require_vision().cvtColor(image, require_vision().COLOR_BGR2GRAY)
        large = max(self.min_size, round(self.large_share * min(gray.shape[:2])))
        found = self._find(gray, large, None)
        if len(found) == 0 and large > self.min_size:
            found = self._find(gray, self.min_size, large + large // 4)
        boxes = [Box(int(x), int(y), int(w), int(h)) for x, y, w, h in found]
        return sorted(boxes, key=lambda b: b.area, reverse=True)


def yunet_path() -> str:
    """The path of the YuNet model file shipped inside preflight."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "models", YUNET_MODEL)


class YuNetDetector:
    """Faces with landmarks in a BGR (or gray) image, largest first: OpenCV Zoo's YuNet.

    ``score`` is the lowest confidence kept. 0.6 keeps every face in the test clips down to
    ~10 px and nothing on FFmpeg's ``testsrc2`` pattern (``benchmarks/face_detectors.py``);
    Wav2Lip's S3FD and LatentSync's InsightFace keep faces above 0.5. YuNet finds faces of about
    10 to 300 px in the image it is given: when a frame whose shorter side is over
    ``large_side`` px shows none, it looks again at half size, for a face too large for one pass
    (a close-up filling a 640x360 sample).

    Speed: when the previous frame's largest face was at least ``half_from`` px, the frame is
    searched at half size first (a quarter of the work): that face is then still 24 px or more,
    and any face half its size, the smallest `face.count` counts, still 12 px. Only when the
    half-size search finds nothing is the full frame searched.
    """

    name = "opencv-yunet-2026may"
    colour = True

    def __init__(
        self,
        *,
        score: float = 0.6,
        nms: float = 0.3,
        top_k: int = 50,
        large_side: int = 320,
        half_from: int | None = 48,
    ) -> None:
        cv2 = require_vision()
        path = yunet_path()
        if not hasattr(cv2, "FaceDetectorYN"):
            raise VisionUnavailableError(
                f"OpenCV {cv2.__version__} has no FaceDetectorYN (4.8 or later needed)"
            )
        if not os.path.isfile(path):
            raise VisionUnavailableError(f"the face model {path} is missing from the install")
        self.score = score
        self.large_side = large_side
        self.half_from = half_from
        self._last_side = 0  # shorter side of the largest face in the previous image
        self._create = functools.partial(
            cv2.FaceDetectorYN.create, path, "", score_threshold=score, nms_threshold=nms,
            top_k=top_k,
        )  # fmt: skip
        self._models: dict[tuple[int, int], Any] = {}  # one per input size (full, half)
        self._load((320, 320))  # a model OpenCV cannot read fails here, not mid-analysis

    def _load(self, size: tuple[int, int]) -> Any:
        model = self._models.get(size)
        if model is None:
            cv2 = require_vision()
            try:
                model = self._models[size] = self._create(input_size=size)
            except cv2.error as exc:
                raise VisionUnavailableError(
                    f"OpenCV {cv2.__version__} could not load the face model {yunet_path()}: "
                    f"{str(exc).strip().splitlines()[-1]}"
                ) from exc
        return model

    def _run(self, bgr: npt.NDArray[np.uint8]) -> Any:
        _, found = self._load((int(bgr.shape[1]), int(bgr.shape[0]))).detect(bgr)
        return found

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        """Every face found in ``image`` (BGR, or gray: converted), largest first."""
        cv2 = require_vision()
        bgr = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        height, width = bgr.shape[:2]
        found, factor = None, 1.0
        if self.half_from is not None and self._last_side >= self.half_from:
            found, factor = self._half(bgr)
        if found is None:
            found, factor = self._run(bgr), 1.0
        if found is None and min(height, width) > self.large_side:
            found, factor = self._half(bgr)
        boxes = [] if found is None else [_yunet_box(r, factor, width, height) for r in found]
        boxes = sorted((b for b in boxes if b.w > 0 and b.h > 0), key=_area, reverse=True)
        self._last_side = min(boxes[0].w, boxes[0].h) if boxes else 0
        return boxes

    def _half(self, bgr: npt.NDArray[np.uint8]) -> tuple[Any, float]:
        cv2 = require_vision()
        height, width = bgr.shape[:2]
        half = cv2.resize(bgr, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
        return self._run(half), width / (width // 2)


def _area(box: Box) -> int:
    return box.area


def _yunet_box(row: Any, factor: float, width: int, height: int) -> Box:
    """One row of YuNet's output (box, 5 landmarks, score) in ``factor``-scaled pixels, clipped
    to the ``width`` x ``height`` image (landmarks are not clipped: outside means cut off)."""
    x, y, w, h = (float(v) * factor for v in row[:4])
    left, top = max(0, round(x)), max(0, round(y))
    right, bottom = min(width, round(x + w)), min(height, round(y + h))
    points = [(float(row[4 + 2 * i]) * factor, float(row[5 + 2 * i]) * factor) for i in range(5)]
    eyes = sorted(points[0:2])
    mouth = sorted(points[3:5])
    landmarks = (eyes[0], eyes[1], points[2], mouth[0], mouth[1])
    return Box(left, top, right - left, bottom - top, float(row[14]), landmarks)
