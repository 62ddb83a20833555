"""The contact sheet (`preflight check --preview out.png`): sampled frames, boxes, failures."""

from __future__ import annotations

import math
import stat
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.model.errors import ConfigError
from preflight.vision.analysis import FaceAnalysis, FaceSample, analyse_with_frames
from preflight.vision.contact_sheet import (
    COLUMNS,
    GREEN,
    HEADER,
    MAX_TILES,
    RED,
    render_contact_sheet,
    write_contact_sheet,
)

TEXT = ["--text", "hello", "--voice-id", "genshin_klee2", "--voice-language", "en"]


def colour_share(image: np.ndarray, colour: tuple[int, int, int]) -> float:
    """Share of pixels within a few levels of ``colour`` (BGR)."""
    near = np.all(np.abs(image.astype(int) - np.array(colour)) <= 12, axis=2)
    return float(near.mean())


def test_check_preview_writes_a_sheet_with_boxes_and_marks(
    face_media: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "sheet.png"
    result = CliRunner().invoke(
        main, ["check", str(face_media("leaves")), *TEXT, "--preview", str(out)]
    )
    assert result.exit_code == 1  # the face is missing for 2 s
    assert out.exists()
    mode = stat.S_IMODE(out.stat().st_mode)
    assert mode & stat.S_IRGRP  # readable like any other file the user writes
    sheet = cv2.imread(str(out))
    assert sheet is not None
    # 30 samples (7.5 s at 4/s) in rows of 8 thumbnails 320x180
    assert sheet.shape[1] == COLUMNS * (320 + 4) + 4
    assert sheet.shape[0] == HEADER + 4 * (180 + 22 + 4) + 4
    first_tile = sheet[HEADER : HEADER + 180, 4 : 4 + 320]
    assert colour_share(first_tile, GREEN) > 0.002  # the face box of a passing sample
    assert colour_share(first_tile, RED) == 0
    # sample 12 (3.0 s, no face) is the 5th tile of the 2nd row: red frame, no box
    y, x = HEADER + (180 + 22 + 4), 4 + 4 * (320 + 4)
    missing = sheet[y : y + 180, x : x + 320]
    assert colour_share(missing, RED) > 0.02
    assert colour_share(missing, GREEN) < 0.001
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheet.png"]  # no temp left


def test_several_videos_get_numbered_sheets(
    face_media: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "preview.png"
    clips = [str(face_media("still")), str(face_media("two"))]
    result = CliRunner().invoke(main, ["check", *clips, *TEXT, "--preview", str(out)])
    assert result.exit_code == 0, result.output  # two faces is a warning in kling-lipsync
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preview-1.png", "preview-2.png"]


def test_long_clips_show_every_nth_sample() -> None:
    samples = tuple(FaceSample(i, i * 0.25) for i in range(200))  # 50 s at 4/s
    analysis = FaceAnalysis("long.mp4", 1280, 720, 640, 360, 0.25, 50.0, "test", samples)
    frames = [np.full((90, 160, 3), 128, dtype=np.uint8)] * 200
    sheet = render_contact_sheet(analysis, frames, [("face.present",)] * 200)
    tiles = math.ceil(200 / math.ceil(200 / MAX_TILES))  # every 3rd sample: 67 tiles
    rows = math.ceil(tiles / COLUMNS)
    assert sheet.shape[:2] == (HEADER + rows * (90 + 22 + 4) + 4, COLUMNS * (160 + 4) + 4)
    assert colour_share(sheet, RED) > 0.05  # every tile fails: all framed in red


def test_unwritable_target_is_a_clear_error(
    face_media: Callable[[str], Path], tmp_path: Path
) -> None:
    analysis, frames = analyse_with_frames(face_media("still"), 1280, 720, rate=1)
    with pytest.raises(ConfigError, match="cannot write"):
        write_contact_sheet(analysis, frames, [()] * len(frames), tmp_path / "no" / "dir.png")
    with pytest.raises(ValueError, match="no frames"):
        render_contact_sheet(analysis, [], [])
