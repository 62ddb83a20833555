"""Head pose and mouth geometry from a face detector's five landmarks (pure arithmetic).

YuNet gives, per face, both eyes, the nose tip and both mouth corners. Nothing here imports
OpenCV or NumPy: the analysis calls these on each sample, and the face rules and tests can call
them on made-up points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["NOSE_DEPTH", "Point", "mouth_problem", "yaw_degrees"]

Point = tuple[float, float]

# How far the nose tip stands in front of the eyes, in half eye distances (about 2 cm against
# about 3 cm on an adult face). Turning the head by ``a`` moves the nose tip sideways by
# ``NOSE_DEPTH * tan(a)`` half eye distances from the eyes' midpoint, as the camera sees it.
NOSE_DEPTH = 0.7


def _axes(landmarks: Sequence[Point]) -> tuple[Point, float, Point, Point]:
    """The eyes' midpoint, half the eye distance, and the unit vectors along and across the eyes
    (across points down the face)."""
    (lx, ly), (rx, ry) = landmarks[0], landmarks[1]
    dx, dy = rx - lx, ry - ly
    length = math.hypot(dx, dy)
    if length < 1e-6:
        return ((lx + rx) / 2, (ly + ry) / 2), 0.0, (1.0, 0.0), (0.0, 1.0)
    along = (dx / length, dy / length)
    return ((lx + rx) / 2, (ly + ry) / 2), length / 2, along, (-along[1], along[0])


def yaw_degrees(landmarks: Sequence[Point]) -> float | None:
    """How far the head is turned left or right, in degrees (0 facing the camera, ~90 profile).

    Estimated from where the nose tip lies between the eyes, measured along the line through
    the eyes (so a tilted head reads the same): ``atan(offset / NOSE_DEPTH)``, the offset in half
    eye distances. Positive when the nose points to the image's right. None without the five
    landmarks. A rough figure (±15°), enough to tell a frontal face from one in profile.
    """
    if len(landmarks) < 3:
        return None
    mid, half, along, _ = _axes(landmarks)
    nose = landmarks[2]
    offset = (nose[0] - mid[0]) * along[0] + (nose[1] - mid[1]) * along[1]
    if half < 1e-6:
        return 90.0 if offset >= 0 else -90.0
    return round(math.degrees(math.atan2(offset / half, NOSE_DEPTH)), 1)


def mouth_problem(
    landmarks: Sequence[Point],
    box: tuple[float, float, float, float],
    width: float,
    height: float,
) -> str | None:
    """Why the mouth corners cannot be a visible mouth, or None when they can.

    ``box`` is the face's (x, y, w, h) and ``width`` x ``height`` the frame, all in the same
    pixels as the landmarks. A corner outside the frame means the mouth is cut off; one well
    outside the face box, or a mouth that is not below the eyes, means the detector guessed
    where a mouth should be (covered, or turned away).
    """
    if len(landmarks) < 5:
        return None
    corners = landmarks[3:5]
    if any(not (0 <= x <= width and 0 <= y <= height) for x, y in corners):
        return "cut off by the frame's edge"
    x, y, w, h = box
    margin_x, margin_y = 0.1 * w, 0.1 * h
    if any(
        not (x - margin_x <= cx <= x + w + margin_x and y - margin_y <= cy <= y + h + margin_y)
        for cx, cy in corners
    ):
        return "outside the face"
    mid, half, _, down = _axes(landmarks)
    mouth = ((corners[0][0] + corners[1][0]) / 2, (corners[0][1] + corners[1][1]) / 2)
    below = (mouth[0] - mid[0]) * down[0] + (mouth[1] - mid[1]) * down[1]
    if half > 0 and below < 0.5 * half:
        return "not below the eyes"
    return None
