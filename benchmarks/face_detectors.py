"""Which CPU face detector: accuracy and speed on the portrait test clips (``fixtures/faces.py``).

Compares OpenCV's Haar cascades (``frontalface_alt2``, the one preflight uses, and
``frontalface_default``) and, when it is importable, MediaPipe 0.10.21's legacy face detector
(short- and full-range models). Accuracy: the share of samples in which a detector finds exactly
the number of faces the clip shows (0 for testsrc2, 2 for the side-by-side clip ...). Speed:
milliseconds per 640x360 sample, detection only, measured in the same run.

    python benchmarks/face_detectors.py

MediaPipe is not a dependency (it pins NumPy below 2 and pulls in jax, jaxlib, matplotlib and
opencv-contrib-python); to include it, run this script from a separate environment that has
``mediapipe==0.10.21`` and ``scikit-image``, with ``PYTHONPATH`` pointing at the repository and
``PREFLIGHT_FFMPEG`` at an FFmpeg binary. YuNet (``cv2.FaceDetectorYN``) is not compared: its ONNX
model is not inside any wheel, and nothing may be downloaded at run time.
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
from preflight.vision.detector import HaarDetector  # noqa: E402
from preflight.vision.sampler import Frame, geometry, sample  # noqa: E402

# clip -> expected number of faces at time t
EXPECTED: dict[str, Callable[[float], int]] = {
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
}

Counter = Callable[[Any], int]  # a BGR frame -> number of faces


def haar(cascade: str) -> Counter:
    detector = HaarDetector()
    if cascade != "alt2":
        path = cv2.data.haarcascades + f"haarcascade_frontalface_{cascade}.xml"
        detector._classifier = cv2.CascadeClassifier(path)

    def count(bgr: Any) -> int:
        return len(detector.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)))

    return count


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
    detectors: dict[str, Counter | None] = {
        "opencv haar frontalface_alt2 (chosen)": haar("alt2"),
        "opencv haar frontalface_default": haar("default"),
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
        right = total = 0
        spent = 0.0
        per_clip = []
        for name, clip_frames in frames.items():
            good = 0
            for frame in clip_frames:
                start = time.perf_counter()
                found = counter(frame.image)
                spent += time.perf_counter() - start
                good += found == EXPECTED[name](frame.time)
            right += good
            total += len(clip_frames)
            per_clip.append(f"{name} {good}/{len(clip_frames)}")
        print(
            f"{label:40s} {right / total:7.1%} {1000 * spent / total:9.1f}  {', '.join(per_clip)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
