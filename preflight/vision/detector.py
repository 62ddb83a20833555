"""The CPU face detector: OpenCV's Haar cascade ``haarcascade_frontalface_alt2``.

The cascade file ships inside the ``opencv-python-headless`` wheel (``cv2.data.haarcascades``), so
nothing is downloaded at run time. Why this one and not YuNet or MediaPipe: ``docs/vision.md``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from preflight.model.errors import PreflightError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["CASCADE", "Box", "HaarDetector", "VisionUnavailableError", "require_vision"]

CASCADE = "haarcascade_frontalface_alt2.xml"
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

    @property
    def area(self) -> int:
        return self.w * self.h


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

    def detect(self, gray: npt.NDArray[np.uint8]) -> list[Box]:
        """Every face found in ``gray`` (2-D uint8), largest first."""
        large = max(self.min_size, round(self.large_share * min(gray.shape[:2])))
        found = self._find(gray, large, None)
        if len(found) == 0 and large > self.min_size:
            found = self._find(gray, self.min_size, large + large // 4)
        boxes = [Box(int(x), int(y), int(w), int(h)) for x, y, w, h in found]
        return sorted(boxes, key=lambda b: b.area, reverse=True)
