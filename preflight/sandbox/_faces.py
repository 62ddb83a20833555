"""The faces identify-face reports: each person on screen with the time span they are seen.

With the vision extra installed the clip is sampled (`preflight.vision.analysis.analyse`, two
frames a second, each searched whole by BlazeFace) and the faces of each sample are linked into
tracks: a face joins the track whose last box is nearest (within one face side), else it starts a
new one. Each track becomes one face of the answer, numbered left to right by where it is first
seen, with the span from its first to its last sample (plus one sample interval, inside the
clip). A track seen in a single sample is dropped when others exist (a detector's flicker is not
a person).

Without the vision extra (or when the clip cannot be decoded) the sandbox does not look: it
reports one face present for the whole video, as it always did, and says so in its log. The
route does the same when no face is found at all (test patterns), so clips without a person keep
working in tests that are not about faces.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FaceTrack", "find_faces"]

SAMPLE_RATE = 2.0  # frames a second: spans to within half a second are enough for the window
log = logging.getLogger("preflight.sandbox")


@dataclass
class FaceTrack:
    """One person: where their face was (display px) and when (seconds), sample by sample."""

    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    start_s: float = 0.0
    end_s: float = 0.0

    @property
    def first_box(self) -> tuple[float, float, float, float]:
        return self.boxes[0]

    def middle(self) -> tuple[float, tuple[float, float, float, float]]:
        """A time inside the track and the face's box then (for its face image)."""
        i = len(self.times) // 2
        return self.times[i], self.boxes[i]


def _near(box: tuple[float, float, float, float], last: tuple[float, float, float, float]) -> float:
    """Centre distance in face sides (large: another person)."""
    side = max(1.0, min(last[2], last[3]))
    dx = (box[0] + box[2] / 2) - (last[0] + last[2] / 2)
    dy = (box[1] + box[3] / 2) - (last[1] + last[3] / 2)
    return math.hypot(dx, dy) / side


def find_faces(path: Path, width: int, height: int, duration: float) -> list[FaceTrack] | None:
    """The face tracks of the clip, left to right; None without the vision extra (or when the
    clip cannot be sampled), so the caller falls back to one face for the whole video."""
    from preflight import vision

    if not vision.available() or width <= 0 or height <= 0:
        log.info("identify-face: vision extra absent; reporting one face for the whole video")
        return None
    from preflight.model.errors import PreflightError
    from preflight.vision.analysis import analyse
    from preflight.vision.detector import BlazeFaceDetector

    try:
        # every sample searched whole (no crop around a lone face): a face entering is seen at once
        detector = BlazeFaceDetector(near_from=None)
        analysis = analyse(
            path, width, height, duration=duration, rate=SAMPLE_RATE, detector=detector
        )
    except PreflightError as exc:
        log.info("identify-face: cannot sample the clip (%s); reporting one face", exc)
        return None
    tracks: list[FaceTrack] = []
    for sample in analysis.samples:
        taken: set[int] = set()
        for face in sample.faces:
            box = face.rect
            scored = [(_near(box, t.boxes[-1]), i) for i, t in enumerate(tracks) if i not in taken]
            best = min(scored, default=None)
            if best is not None and best[0] <= 1.0:
                track = tracks[best[1]]
                taken.add(best[1])
            else:
                track = FaceTrack()
                tracks.append(track)
                taken.add(len(tracks) - 1)
            track.boxes.append(box)
            track.times.append(sample.time)
    if len(tracks) > 1:
        tracks = [t for t in tracks if len(t.times) > 1] or tracks
    for t in tracks:
        t.start_s = t.times[0]
        t.end_s = max(t.start_s, min(t.times[-1] + analysis.interval, analysis.duration))
    return sorted(tracks, key=lambda t: t.first_box[0])
