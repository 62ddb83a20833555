"""A contact sheet: the sampled frames in a grid, face boxes drawn, failing frames marked in red.

What the face check saw, at a glance (`preflight check --preview out.png`). Each tile shows one
sample with its time; the largest face's box is green when the sample passes every face rule and
red when it fails one (the failing rules are named under the tile, and the tile gets a red
border); other faces are drawn in yellow. Written as PNG, atomically.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

from preflight.model.errors import ConfigError
from preflight.vision.analysis import FaceAnalysis
from preflight.vision.detector import require_vision

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["MAX_TILES", "render_contact_sheet", "write_contact_sheet"]

MAX_TILES = 96  # longer clips show every n-th sample
COLUMNS = 8
CAPTION = 22  # pixels under each tile
HEADER = 28
GAP = 4
GREEN = (60, 180, 60)
RED = (40, 40, 220)
YELLOW = (0, 210, 230)
WHITE = (255, 255, 255)
DARK = (32, 32, 32)


def _short(rule_id: str) -> str:
    return rule_id.removeprefix("face.")


def render_contact_sheet(
    analysis: FaceAnalysis,
    frames: Sequence[npt.NDArray[np.uint8]],
    failures: Sequence[Sequence[str]],
) -> npt.NDArray[np.uint8]:
    """The contact sheet as a BGR image. ``frames`` and ``failures`` are per sample."""
    cv2 = require_vision()
    import numpy as np

    if not frames:
        raise ValueError("no frames to draw")
    count = min(len(frames), len(analysis.samples))
    step = max(1, math.ceil(count / MAX_TILES))
    chosen = list(range(0, count, step))
    th, tw = frames[0].shape[:2]
    cols = min(COLUMNS, len(chosen))
    rows = math.ceil(len(chosen) / cols)
    sheet_w = cols * (tw + GAP) + GAP
    sheet_h = HEADER + rows * (th + CAPTION + GAP) + GAP
    sheet = np.full((sheet_h, sheet_w, 3), DARK, dtype=np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    bad = sum(1 for f in failures[:count] if f)
    title = (
        f"{os.path.basename(analysis.source)}  {analysis.width}x{analysis.height}  "
        f"{count} samples every {analysis.interval:g} s  {bad} failing  ({analysis.detector})"
    )
    cv2.putText(sheet, title, (GAP + 2, 19), font, 0.5, WHITE, 1, cv2.LINE_AA)
    sx = tw / analysis.width
    sy = th / analysis.height
    for slot, i in enumerate(chosen):
        sample = analysis.samples[i]
        failed = tuple(failures[i]) if i < len(failures) else ()
        tile = frames[i]
        if tile.ndim == 2:
            tile = cv2.cvtColor(tile, cv2.COLOR_GRAY2BGR)
        tile = tile.copy()
        for rank, face in enumerate(sample.faces):
            colour = (RED if failed else GREEN) if rank == 0 else YELLOW
            p1 = (round(face.x * sx), round(face.y * sy))
            p2 = (round((face.x + face.w) * sx), round((face.y + face.h) * sy))
            cv2.rectangle(tile, p1, p2, colour, 2)
        if failed:
            cv2.rectangle(tile, (0, 0), (tw - 1, th - 1), RED, 4)
        x = GAP + (slot % cols) * (tw + GAP)
        y = HEADER + (slot // cols) * (th + CAPTION + GAP)
        sheet[y : y + th, x : x + tw] = tile
        label = f"{sample.time:.2f}s"
        if failed:
            label += " " + ",".join(_short(r) for r in failed)
        cv2.putText(
            sheet, label, (x + 2, y + th + 16), font, 0.45, RED if failed else WHITE, 1,
            cv2.LINE_AA,
        )  # fmt: skip
    return sheet


def write_contact_sheet(
    analysis: FaceAnalysis,
    frames: Sequence[npt.NDArray[np.uint8]],
    failures: Sequence[Sequence[str]],
    path: str | os.PathLike[str],
) -> str:
    """Render and write the contact sheet to ``path`` (PNG) atomically; return the path.

    Raises `ConfigError` when the file cannot be written.
    """
    cv2 = require_vision()
    image = render_contact_sheet(analysis, frames, failures)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ConfigError(f"cannot encode the contact sheet for {path}")
    target = os.path.abspath(os.fspath(path))
    try:
        fd, tmp = tempfile.mkstemp(
            dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.", suffix=".part"
        )
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(encoded.tobytes())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a picture is for sharing
        os.replace(tmp, target)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise
    return target
