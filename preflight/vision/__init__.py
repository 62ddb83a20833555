"""Face checks for lip-sync inputs: sample frames, find faces, measure them (optional extra).

Everything here needs ``pip install media-preflight[vision]`` (OpenCV, NumPy) except this module
and `available`, which import nothing heavy: `preflight check` pays for OpenCV only when a
profile enables face rules and the input is a video.
"""

from __future__ import annotations

__all__ = ["DEFAULT_RATE", "INSTALL_HINT", "available"]

INSTALL_HINT = "install media-preflight[vision]"
DEFAULT_RATE = 4.0  # face-check samples a second


def available() -> bool:
    """True when OpenCV and NumPy can be imported (without importing them)."""
    import importlib.util  # not at import: a check with the face rules off never asks
    import sys

    for name in ("cv2", "numpy"):
        if name in sys.modules:
            if sys.modules[name] is None:
                return False
            continue
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True
