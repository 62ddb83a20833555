"""Head pose and mouth geometry from BlazeFace's six keypoints (pure arithmetic).

BlazeFace (MediaPipe's face detector) gives, per face, both eyes, the nose tip, the centre of the
mouth and both ear tragions (the notch in front of each ear); `preflight.vision.detector` orders
them eye on the image's left, eye on its right, nose tip, mouth centre, ear on the left, ear on
the right. Nothing here imports OpenCV or NumPy: the analysis calls these on each sample, and
the face rules and tests can call them on made-up points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "EAR_LEFT",
    "EAR_RIGHT",
    "EYE_LEFT",
    "EYE_RIGHT",
    "MOUTH",
    "MOUTH_HALF_HEIGHT",
    "MOUTH_HALF_WIDTH",
    "NOSE",
    "NOSE_DEPTH",
    "Point",
    "mouth_corners",
    "mouth_problem",
    "mouth_region",
    "yaw_degrees",
]

Point = tuple[float, float]

EYE_LEFT, EYE_RIGHT, NOSE, MOUTH, EAR_LEFT, EAR_RIGHT = range(6)

# How far the nose tip stands in front of the eyes, in half eye distances (about 2 cm against
# about 3 cm on an adult face). Turning the head by ``a`` moves the nose tip sideways by
# ``NOSE_DEPTH * tan(a)`` half eye distances from the eyes' midpoint, as the camera sees it.
NOSE_DEPTH = 0.7

# The mouth region around BlazeFace's mouth centre, in eye distances: an adult mouth is about
# 0.8 eye distances wide; the region is a little wider, and half as high as wide, so it holds
# the lips and their shadow but not the nose or chin.
MOUTH_HALF_WIDTH = 0.45
MOUTH_HALF_HEIGHT = 0.25


def _axes(landmarks: Sequence[Point]) -> tuple[Point, float, Point, Point]:
    """The eyes' midpoint, half the eye distance, and the unit vectors along and across the eyes
    (across points down the face)."""
    (lx, ly), (rx, ry) = landmarks[EYE_LEFT], landmarks[EYE_RIGHT]
    dx, dy = rx - lx, ry - ly
    length = math.hypot(dx, dy)
    if length < 1e-6:
        return ((lx + rx) / 2, (ly + ry) / 2), 0.0, (1.0, 0.0), (0.0, 1.0)
    along = (dx / length, dy / length)
    return ((lx + rx) / 2, (ly + ry) / 2), length / 2, along, (-along[1], along[0])


def _eye_yaw(landmarks: Sequence[Point]) -> float:
    """Yaw from the nose tip between the eyes: ``atan(offset / NOSE_DEPTH)``, the offset along
    the eye line in half eye distances."""
    mid, half, along, _ = _axes(landmarks)
    nose = landmarks[NOSE]
    offset = (nose[0] - mid[0]) * along[0] + (nose[1] - mid[1]) * along[1]
    if half < 1e-6:
        return 90.0 if offset >= 0 else -90.0
    return math.degrees(math.atan2(offset / half, NOSE_DEPTH))


def _ear_yaw(landmarks: Sequence[Point]) -> float | None:
    """Yaw from the nose tip between the ear tragions: the ears lie about on the head's axis of
    turning, so the nose's offset from their midpoint, over half their distance, is about the
    sine of the yaw (1 or more: profile, the far ear hidden behind the head)."""
    (lx, ly), (rx, ry) = landmarks[EAR_LEFT], landmarks[EAR_RIGHT]
    dx, dy = rx - lx, ry - ly
    length = math.hypot(dx, dy)
    if length < 1e-6:
        return None
    nose = landmarks[NOSE]
    offset = ((nose[0] - (lx + rx) / 2) * dx + (nose[1] - (ly + ry) / 2) * dy) / length
    return math.degrees(math.asin(max(-1.0, min(1.0, offset / (length / 2)))))


def yaw_degrees(landmarks: Sequence[Point]) -> float | None:
    """How far the head is turned left or right, in degrees (0 facing the camera, ~90 profile).

    The mean of two estimates that fail differently: where the nose tip lies between the eyes
    (measured along the line through the eyes, so a tilted head reads the same) and where it
    lies between the ear tragions. Positive when the nose points to the image's right. None
    without landmarks. A rough figure (±15°), enough to tell a frontal face from one in profile:
    the test portrait reads about -14° (her head is turned a little), scikit-image's cameraman
    in profile about 77°.
    """
    if len(landmarks) < 3:
        return None
    eyes = _eye_yaw(landmarks)
    ears = _ear_yaw(landmarks) if len(landmarks) >= 6 else None
    return round(eyes if ears is None else (eyes + ears) / 2, 1)


def mouth_corners(landmarks: Sequence[Point]) -> tuple[Point, Point] | None:
    """Where the mouth's corners should be: ``MOUTH_HALF_WIDTH`` eye distances either side of
    the mouth centre, along the eye line. None without the mouth centre."""
    if len(landmarks) <= MOUTH:
        return None
    _, half, along, _ = _axes(landmarks)
    mx, my = landmarks[MOUTH]
    reach = 2 * half * MOUTH_HALF_WIDTH
    return (mx - along[0] * reach, my - along[1] * reach), (
        mx + along[0] * reach,
        my + along[1] * reach,
    )


def mouth_region(landmarks: Sequence[Point]) -> tuple[float, float, float, float] | None:
    """The mouth region (left, top, right, bottom) around the mouth centre, in the landmarks'
    pixels: ``MOUTH_HALF_WIDTH`` eye distances either side, ``MOUTH_HALF_HEIGHT`` above and
    below. None without the mouth centre or with the eyes on one point."""
    if len(landmarks) <= MOUTH:
        return None
    _, half, _, _ = _axes(landmarks)
    if half < 1e-6:
        return None
    mx, my = landmarks[MOUTH]
    w, h = 2 * half * MOUTH_HALF_WIDTH, 2 * half * MOUTH_HALF_HEIGHT
    return (mx - w, my - h, mx + w, my + h)


def mouth_problem(
    landmarks: Sequence[Point],
    box: tuple[float, float, float, float],
    width: float,
    height: float,
) -> str | None:
    """Why the mouth keypoint cannot be a visible mouth, or None when it can.

    ``box`` is the face's (x, y, w, h) and ``width`` x ``height`` the frame, all in the same
    pixels as the landmarks. A mouth corner (`mouth_corners`) outside the frame means the mouth
    is cut off; a mouth centre well outside the face box, or one that is not below the eyes,
    means the detector guessed where a mouth should be (covered, or turned away).
    """
    corners = mouth_corners(landmarks)
    if corners is None:
        return None
    if any(not (0 <= x <= width and 0 <= y <= height) for x, y in corners):
        return "cut off by the frame's edge"
    x, y, w, h = box
    cx, cy = landmarks[MOUTH]
    if not (x - 0.1 * w <= cx <= x + 1.1 * w and y - 0.1 * h <= cy <= y + 1.1 * h):
        return "outside the face"
    mid, half, _, down = _axes(landmarks)
    below = (cx - mid[0]) * down[0] + (cy - mid[1]) * down[1]
    if half > 0 and below < 0.5 * half:
        return "not below the eyes"
    return None
