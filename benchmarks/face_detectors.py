"""Which CPU face detector: accuracy and speed on the test clips and on portraits of every size.

Compares BlazeFace full-range (MediaPipe's model shipped in ``preflight/vision/models``, run by
``cv2.dnn``: the one preflight uses, and the same without its tiled second pass), OpenCV's Haar
cascades (``frontalface_alt2``, used before, and ``frontalface_default``) and, when it is
importable, MediaPipe 0.10.21's legacy face detector (short- and full-range models). Two
measures, in the same run:

- portraits: scikit-image's astronaut scaled to 40..700 px on a grey 1280x720 frame, reduced to
  the 640x360 sample the analysis sees; a hit is one face found, on the portrait's face;
- clips (``fixtures/faces.py``): the share of samples in which a detector finds exactly the
  number of faces the clip shows (0 for testsrc2, 2 for the side-by-side clip ...), and
  milliseconds per 640x360 sample, detection only.

    python benchmarks/face_detectors.py

MediaPipe is not a dependency (it pins NumPy below 2 and pulls in jax, jaxlib, matplotlib and
opencv-contrib-python); to include it, run this script from a separate environment that has
``mediapipe==0.10.21`` and ``scikit-image``, with ``PYTHONPATH`` pointing at the repository and
``PREFLIGHT_FFMPEG`` at an FFmpeg binary.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402

from fixtures.faces import make  # noqa: E402
from preflight.vision.detector import BlazeFaceDetector, HaarDetector  # noqa: E402
from preflight.vision.sampler import Frame, geometry, sample  # noqa: E402

# clip -> expected number of faces at time t (None: not scored, the face is half out of frame)
EXPECTED: dict[str, Callable[[float], int | None]] = {
    "clear": lambda t: 1,
    "still": lambda t: 1,
    "rotated": lambda t: 1,
    "none": lambda t: 0,
    "two": lambda t: 2,
    "tiny": lambda t: 1,
    "dark": lambda t: 1,
    "blurred": lambda t: 1,
    "leaves": lambda t: 0 if 3.0 <= t < 5.0 else 1,
    "jump": lambda t: 1,
    "small": lambda t: 1,
    "profile": lambda t: 1,
    "covered": lambda t: 1,
    "exits": lambda t: 1 if t < 2.0 else None if t < 2.75 else 0,
}
SIZES = (40, 60, 80, 100, 130, 160, 220, 300, 400, 500, 600, 700)
# the astronaut's face in the 512 px portrait (checked by eye)
FACE = (178, 63, 90, 113)

Counter = Callable[[Any], int]  # a BGR frame -> number of faces


Finder = Callable[[Any], list[tuple[float, float, float, float]]]  # BGR -> face boxes


def counting(find: Finder) -> Counter:
    return lambda bgr: len(find(bgr))


def haar(cascade: str) -> Finder:
    detector = HaarDetector()
    if cascade != "alt2":
        path = cv2.data.haarcascades + f"haarcascade_frontalface_{cascade}.xml"
        detector._classifier = cv2.CascadeClassifier(path)

    def find(bgr: Any) -> list[tuple[float, float, float, float]]:
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        return [(b.x, b.y, b.w, b.h) for b in detector.detect(gray)]

    return find


def blazeface(*, tiles: bool = True) -> Finder:
    detector = BlazeFaceDetector() if tiles else BlazeFaceDetector(tile=1 << 20)

    def find(bgr: Any) -> list[tuple[float, float, float, float]]:
        return [(b.x, b.y, b.w, b.h) for b in detector.detect(bgr)]

    return find


def portrait_frame(size: int) -> tuple[Any, tuple[float, float]]:
    """The astronaut at ``size`` px centred on a grey 1280x720 frame, as the 640x360 sample, and
    where its face's centre is in the sample."""
    import numpy as np
    import skimage.data

    image = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    frame = np.full((720, 1280, 3), 128, dtype=np.uint8)
    scaled = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    if size > 720:  # taller than the frame: keep the top, where the face is
        scaled = scaled[:720]
    x0 = (1280 - size) // 2
    y0 = max(0, (720 - size) // 2)
    frame[y0 : y0 + scaled.shape[0], x0 : x0 + size] = scaled
    k = size / 512
    cx, cy = x0 + (FACE[0] + FACE[2] / 2) * k, y0 + (FACE[1] + FACE[3] / 2) * k
    sample = cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA)
    return sample, (cx / 2, cy / 2)


def portrait_hits(find: Finder) -> list[bool]:
    hits = []
    for size in SIZES:
        sample, (cx, cy) = portrait_frame(size)
        boxes = find(sample)
        hits.append(
            len(boxes) == 1
            and boxes[0][0] <= cx <= boxes[0][0] + boxes[0][2]
            and boxes[0][1] <= cy <= boxes[0][1] + boxes[0][3]
        )
    return hits


def mediapipe(model: int) -> Counter | None:
    try:
        import mediapipe as mp  # type: ignore[import-not-found]
    except ImportError:
        return None
    detector = mp.solutions.face_detection.FaceDetection(
        model_selection=model, min_detection_confidence=0.5
    )

    def count(bgr: Any) -> int:
        found = detector.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        return len(found.detections or [])

    return count


def main() -> int:
    finders: dict[str, Finder] = {
        "blazeface full-range + tiles (chosen)": blazeface(),
        "blazeface full-range, whole frame only": blazeface(tiles=False),
        "opencv haar frontalface_alt2": haar("alt2"),
        "opencv haar frontalface_default": haar("default"),
    }
    print("portrait on a 1280x720 frame, sampled at 640x360: face found (+) or not (-)")
    print(f"{'portrait px':40s} " + " ".join(f"{s:>4d}" for s in SIZES))
    print(f"{'face px (display, ~0.18 of portrait)':40s} "
          + " ".join(f"{round(s * FACE[2] / 512):>4d}" for s in SIZES))  # fmt: skip
    for label, find in finders.items():
        hits = portrait_hits(find)
        print(f"{label:40s} " + " ".join(f"{'+' if h else '-':>4s}" for h in hits)
              + f"   {sum(hits)}/{len(hits)}")  # fmt: skip
    print()
    detectors: dict[str, Counter | None] = {
        **{label: counting(find) for label, find in finders.items()},
        "mediapipe 0.10.21 short-range": mediapipe(0),
        "mediapipe 0.10.21 full-range": mediapipe(1),
    }
    with tempfile.TemporaryDirectory() as tmp:
        frames: dict[str, list[Frame]] = {}
        for name in EXPECTED:
            clip = make(name, Path(tmp))
            frames[name] = list(sample(clip, geometry(1280, 720), pix_fmt="bgr24"))
    print(f"{'detector':40s} {'right':>7s} {'ms/frame':>9s}  per clip (right/samples)")
    for label, counter in detectors.items():
        if counter is None:
            print(f"{label:40s} {'not installed: see the docstring':>40s}")
            continue
        right = total = seen = 0
        spent = 0.0
        per_clip = []
        for name, clip_frames in frames.items():
            good = 0
            scored = 0
            for frame in clip_frames:
                start = time.perf_counter()
                found = counter(frame.image)
                spent += time.perf_counter() - start
                want = EXPECTED[name](frame.time)
                if want is None:
                    continue
                scored += 1
                good += found == want
            right += good
            total += scored
            seen += len(clip_frames)
            per_clip.append(f"{name} {good}/{scored}")
        print(f"{label:40s} {right / total:7.1%} {1000 * spent / seen:9.1f}  {', '.join(per_clip)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
