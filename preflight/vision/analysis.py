"""Per-sample face measurements of one video, as frozen values the face rules read.

For each sampled frame: every face found in display pixels, with the detector's score and six
keypoints, the followed face first (the largest, unless one nearly as large stays where the
previous sample's was: two faces of one size must not read as jumps between them). For that
face: the mean luminance and contrast (standard deviation, 0-255 scale) of its region, its
sharpness (variance of the Laplacian of the region scaled to a fixed size, so near and far faces
compare), its movement since the previous sample (centre shift in face sides, relative change of
side), its yaw (degrees, from the landmarks) and how much detail its mouth region shows against
the whole face (low: covered).
The result goes into ``job.analysis["face"]``; `FaceSkipped` goes there instead when the analysis
could not run, so the rules say "skipped" rather than pass.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from preflight.vision.detector import BlazeFaceDetector, Box, Detector, require_vision
from preflight.vision.landmarks import mouth_region, yaw_degrees
from preflight.vision.sampler import (
    DEFAULT_MAX_SIDE,
    DEFAULT_RATE,
    Frame,
    SampleGeometry,
    geometry,
    sample,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "FaceAnalysis",
    "FaceBox",
    "FaceSample",
    "FaceSkipped",
    "analyse",
    "analyse_frames",
    "analyse_with_frames",
    "measure",
]

SHARPNESS_SIDE = 64  # face regions are scaled to 64x64 before the Laplacian
THUMB_SIDE = 320  # frames kept for a contact sheet fit inside 320x320


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face in display pixels of the video: left, top, width, height."""

    x: float
    y: float
    w: float
    h: float
    score: float | None = None  # the detector's confidence, 0-1
    landmarks: tuple[tuple[float, float], ...] = ()  # eyes, nose, mouth, ears (display px)

    @property
    def side(self) -> float:
        """The shorter side: what "face size" means in the rules."""
        return min(self.w, self.h)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)

    @property
    def rect(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.w, self.h)

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"x": round(self.x, 1), "y": round(self.y, 1),
                                 "w": round(self.w, 1), "h": round(self.h, 1)}  # fmt: skip
        if self.score is not None:
            found["score"] = round(self.score, 3)
        if self.landmarks:
            found["landmarks"] = [[round(x, 1), round(y, 1)] for x, y in self.landmarks]
        return found


@dataclass(frozen=True, slots=True)
class FaceSample:
    """What one sampled frame showed. Measurements are of `face` (the largest, or one nearly as
    large that stays where the previous sample's was); None without a face."""

    index: int
    time: float
    faces: tuple[FaceBox, ...] = ()
    luma: float | None = None
    contrast: float | None = None
    sharpness: float | None = None
    shift: float | None = None  # centre shift since the previous sample, in face sides
    size_change: float | None = None  # |side / previous side - 1|
    yaw: float | None = None  # head turned left/right, degrees (0 frontal); None: no landmarks
    mouth_detail: float | None = None  # mouth region's contrast / the face's (low: covered)

    @property
    def count(self) -> int:
        return len(self.faces)

    @property
    def face(self) -> FaceBox | None:
        """The face followed (measured): the largest, or one nearly as large (80%) that is
        nearer the face followed in the previous sample. None without a face."""
        return self.faces[0] if self.faces else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "time": round(self.time, 3),
            "faces": [f.to_dict() for f in self.faces],
            "luma": _round(self.luma),
            "contrast": _round(self.contrast),
            "sharpness": _round(self.sharpness),
            "shift": _round(self.shift, 3),
            "size_change": _round(self.size_change, 3),
            "yaw": _round(self.yaw),
            "mouth_detail": _round(self.mouth_detail, 3),
        }


@dataclass(frozen=True, slots=True)
class FaceAnalysis:
    """The face measurements of one video: one `FaceSample` per ``interval`` seconds."""

    source: str
    width: int  # display size of the video
    height: int
    sample_width: int  # size the frames were analysed at
    sample_height: int
    interval: float  # seconds between samples
    duration: float  # seconds the samples cover (the clip's duration where known)
    detector: str
    samples: tuple[FaceSample, ...]

    def share(self, face: FaceBox) -> float:
        """A face's side as a share of the frame's shorter side."""
        return face.side / min(self.width, self.height)

    def span(self, first: int, last: int) -> tuple[float, float]:
        """The time range samples ``first``..``last`` (inclusive) stand for, in seconds."""
        start = self.samples[first].time
        end = min(self.samples[last].time + self.interval, self.duration)
        return (round(start, 3), round(max(end, start), 3))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "width": self.width,
            "height": self.height,
            "sample_width": self.sample_width,
            "sample_height": self.sample_height,
            "interval": self.interval,
            "duration": self.duration,
            "detector": self.detector,
            "samples": [s.to_dict() for s in self.samples],
        }


@dataclass(frozen=True, slots=True)
class FaceSkipped:
    """Why no face analysis ran for a video (the rules turn this into `skipped` findings)."""

    reason: str


@dataclass(slots=True)
class _Previous:
    box: FaceBox | None = None


@dataclass(frozen=True, slots=True)
class _Measured:
    luma: float
    contrast: float
    sharpness: float
    mouth_detail: float | None = None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def measure(gray: npt.NDArray[np.uint8], box: Box) -> _Measured:
    """Luminance, contrast and sharpness of ``box`` in ``gray`` (sample pixels), and with
    landmarks the detail of its mouth region (`mouth_detail`)."""
    cv2 = require_vision()
    region = gray[box.y : box.y + box.h, box.x : box.x + box.w]
    mean, std = cv2.meanStdDev(region)
    side = SHARPNESS_SIDE
    interpolation = cv2.INTER_AREA if min(box.w, box.h) >= side else cv2.INTER_LINEAR
    fixed = cv2.resize(region, (side, side), interpolation=interpolation)
    laplacian = cv2.Laplacian(fixed, cv2.CV_64F)
    contrast = float(std[0, 0])
    return _Measured(
        float(mean[0, 0]), contrast, float(laplacian.var()), mouth_detail(gray, box, contrast)
    )


def mouth_detail(gray: npt.NDArray[np.uint8], box: Box, face_contrast: float) -> float | None:
    """The contrast (standard deviation) of the mouth region over the whole face's.

    The region (`preflight.vision.landmarks.mouth_region`) is centred on BlazeFace's mouth
    keypoint, 0.9 eye distances wide and 0.5 high. Lips, teeth and their shadows make it about
    as varied as the face (0.35-0.7 on the test portrait, also when small, dark or blurred); a
    hand, a microphone or a flat patch over the mouth brings it under 0.3. None without
    landmarks, when the region is not wholly inside the frame, or for a featureless face.
    """
    region_box = mouth_region(box.landmarks)
    if region_box is None or face_contrast < 1.0:
        return None
    left, top, right, bottom = (round(v) for v in region_box)
    height, width = gray.shape[:2]
    if left < 0 or top < 0 or right >= width or bottom >= height:
        return None
    region = gray[top : bottom + 1, left : right + 1]
    if region.size < 4:
        return None
    return float(region.std()) / face_contrast


def _to_display(box: Box, geom: SampleGeometry) -> FaceBox:
    sx = geom.width / geom.sample_width
    sy = geom.height / geom.sample_height
    points = tuple((x * sx, y * sy) for x, y in box.landmarks)
    return FaceBox(box.x * sx, box.y * sy, box.w * sx, box.h * sy, box.score, points)


def _sample_of(
    frame: Frame, gray: npt.NDArray[np.uint8], boxes: list[Box], geom: SampleGeometry,
    previous: _Previous,
) -> FaceSample:  # fmt: skip
    boxes = _keep_track(boxes, geom, previous.box)
    faces = tuple(_to_display(b, geom) for b in boxes)
    if not faces:
        previous.box = None
        return FaceSample(frame.index, frame.time)
    m = measure(gray, boxes[0])
    shift = size_change = None
    face = faces[0]
    if previous.box is not None:
        before = previous.box
        (cx, cy), (px, py) = face.centre, before.centre
        shift = math.hypot(cx - px, cy - py) / before.side
        size_change = abs(face.side / before.side - 1.0)
    previous.box = face
    return FaceSample(
        frame.index,
        frame.time,
        faces,
        m.luma,
        m.contrast,
        m.sharpness,
        shift,
        size_change,
        yaw_degrees(face.landmarks),
        m.mouth_detail,
    )


TRACK_RATIO = 0.8  # faces this close to the largest one's side may stay the followed face


def _keep_track(boxes: list[Box], geom: SampleGeometry, before: FaceBox | None) -> list[Box]:
    """``boxes`` (largest first) with the face to follow first: the largest, unless another one
    nearly as large (`TRACK_RATIO`) is nearer the face followed in the previous sample. Two faces
    of one size otherwise take turns at being "the largest" and read as jumps between them."""
    if before is None or len(boxes) < 2:
        return boxes
    floor = TRACK_RATIO * min(boxes[0].w, boxes[0].h)
    px, py = before.centre

    def distance(box: Box) -> float:
        cx, cy = _to_display(box, geom).centre
        return math.hypot(cx - px, cy - py)

    near = min((b for b in boxes if min(b.w, b.h) >= floor), key=distance)
    return [near, *(b for b in boxes if b is not near)]


def analyse_frames(
    frames: Iterable[Frame],
    geom: SampleGeometry,
    *,
    interval: float,
    duration: float | None = None,
    source: str = "",
    detector: Detector | None = None,
) -> FaceAnalysis:
    """Measure faces in already-sampled ``frames`` (gray or BGR) of a ``geom`` video.

    The detector defaults to `BlazeFaceDetector`; it is given the frame as sampled (BGR when the
    frames are in colour), the measurements are taken on its gray version.
    """
    cv2 = require_vision()
    detector = detector or BlazeFaceDetector()
    previous = _Previous()
    samples: list[FaceSample] = []
    for frame in frames:
        image = frame.image
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        samples.append(_sample_of(frame, gray, detector.detect(image), geom, previous))
    covered = len(samples) * interval
    return FaceAnalysis(
        source=source,
        width=geom.width,
        height=geom.height,
        sample_width=geom.sample_width,
        sample_height=geom.sample_height,
        interval=interval,
        duration=duration if duration is not None else covered,
        detector=detector.name,
        samples=tuple(samples),
    )


def analyse(
    source: str | os.PathLike[str],
    width: int,
    height: int,
    *,
    duration: float | None = None,
    rate: float = DEFAULT_RATE,
    max_side: int = DEFAULT_MAX_SIDE,
    detector: Detector | None = None,
) -> FaceAnalysis:
    """Sample ``source`` (display size ``width`` x ``height``) and measure its faces.

    ``detector`` defaults to `BlazeFaceDetector`. Raises `VisionUnavailableError` without the vision
    extra, `FFmpegError` when decoding fails.
    """
    analysis, _ = analyse_with_frames(
        source,
        width,
        height,
        duration=duration,
        rate=rate,
        max_side=max_side,
        detector=detector,
        keep=False,
    )
    return analysis


def analyse_with_frames(
    source: str | os.PathLike[str],
    width: int,
    height: int,
    *,
    duration: float | None = None,
    rate: float = DEFAULT_RATE,
    max_side: int = DEFAULT_MAX_SIDE,
    detector: Detector | None = None,
    keep: bool = True,
) -> tuple[FaceAnalysis, list[npt.NDArray[np.uint8]]]:
    """`analyse`, also returning the sampled frames in colour (BGR, at most ``THUMB_SIDE`` px)
    for a contact sheet. With ``keep=False`` the list is empty (and frames are sampled gray when
    the detector does not want colour)."""
    cv2 = require_vision()
    detector = detector or BlazeFaceDetector()
    geom = geometry(width, height, max_side)
    kept: list[npt.NDArray[np.uint8]] = []

    def keeping(frames: Iterable[Frame]) -> Iterable[Frame]:
        thumb = geometry(geom.sample_width, geom.sample_height, THUMB_SIDE)
        size = (thumb.sample_width, thumb.sample_height)
        for frame in frames:
            kept.append(cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA))
            yield frame

    colour = keep or detector.colour
    frames = sample(source, geom, rate=rate, pix_fmt="bgr24" if colour else "gray")
    analysis = analyse_frames(
        keeping(frames) if keep else frames,
        geom,
        interval=1.0 / rate,
        duration=duration,
        source=os.fspath(source),
        detector=detector,
    )
    return analysis, kept
