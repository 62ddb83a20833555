"""The face window and `preflight fix --face-window`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from preflight.checking.faces import face_settings, with_face_analysis
from preflight.cli import main
from preflight.fixing.face_window import FaceWindow, face_window, stretches
from preflight.model.errors import FixError
from preflight.model.job import Job
from preflight.probing import probe
from preflight.rules.profiles import load_profile
from preflight.vision.analysis import FaceAnalysis, FaceBox, FaceSample

PROFILE = load_profile("kling-lipsync")
SETTINGS = face_settings(PROFILE)
TEXT = ["--text", "hello", "--voice-id", "genshin_klee2", "--voice-language", "en"]


def sample(i: int, present: bool = True, **changes: Any) -> FaceSample:
    if not present:
        return FaceSample(i, i * 0.25)
    s = FaceSample(
        i, i * 0.25, (FaceBox(570, 200, 140, 140),), 150.0, 50.0, 500.0,
        None if i == 0 else 0.0, None if i == 0 else 0.0,
    )  # fmt: skip
    return replace(s, **changes)


def analysis(samples: list[FaceSample], duration: float | None = None) -> FaceAnalysis:
    return FaceAnalysis(
        "clip.mp4", 1280, 720, 640, 360, 0.25,
        duration if duration is not None else len(samples) * 0.25, "test", tuple(samples),
    )  # fmt: skip


def test_stretches_split_at_failing_samples_and_jumps() -> None:
    samples = [sample(i) for i in range(40)]  # 10 s
    samples[8] = sample(8, present=False)  # no face at 2.0-2.25
    samples[20] = sample(20, shift=9.0)  # a cut between 4.75 and 5.0
    samples[30] = sample(30, luma=10.0)  # dark at 7.5-7.75
    found = stretches(analysis(samples), SETTINGS)
    assert found == [
        FaceWindow(0.0, 2.0),
        FaceWindow(2.25, 5.0),
        FaceWindow(5.0, 7.5),
        FaceWindow(7.75, 10.0),
    ]
    best = face_window(analysis(samples), SETTINGS, min_duration=2, max_duration=10)
    assert best == FaceWindow(2.25, 5.0)  # 2.75 s; the later 2.5 s stretches lose


def test_window_is_cut_to_the_maximum_and_clipped_to_the_duration() -> None:
    samples = [sample(i) for i in range(60)]  # 15 s
    assert face_window(analysis(samples), SETTINGS, max_duration=10) == FaceWindow(0.0, 10.0)
    # the last sample stands for less than a full interval when the clip ends first
    short = analysis([sample(i) for i in range(10)], duration=2.4)
    assert face_window(short, SETTINGS) == FaceWindow(0.0, 2.4)


def test_no_window_says_why() -> None:
    with pytest.raises(FixError, match="no part of the clip passes"):
        face_window(analysis([sample(i, present=False) for i in range(16)]), SETTINGS)
    samples = [sample(i, present=(i % 6 != 0)) for i in range(24)]  # 1.25 s stretches
    with pytest.raises(FixError, match=r"longest stretch .* is 1\.25 s .* at least 2 s"):
        face_window(analysis(samples), SETTINGS, min_duration=2)


def test_face_window_on_the_clip_whose_face_leaves(
    face_media: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "window.mp4"
    result = CliRunner().invoke(
        main, ["fix", str(face_media("leaves")), "--face-window", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "face window 0–3 s" in result.output
    facts = probe(out)
    assert facts.effective_duration == pytest.approx(3.0, abs=0.25)
    # the output passes every rule of the profile, face rules included
    job = with_face_analysis(Job(name="w", video=facts), SETTINGS)
    assert isinstance(job.analysis["face"], FaceAnalysis)
    checked = CliRunner().invoke(main, ["check", str(out), *TEXT, "-f", "json"])
    assert checked.exit_code == 0, checked.output
    (report,) = json.loads(checked.stdout)["results"]
    assert report["ok"] is True
    assert report["findings"] == []


def test_face_window_dry_run_and_json(face_media: Callable[[str], Path], tmp_path: Path) -> None:
    out = tmp_path / "never.mp4"
    result = CliRunner().invoke(
        main,
        [
            "fix",
            str(face_media("jump")),
            "--face-window",
            "--dry-run",
            "-o",
            str(out),
            "-f",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    (plan,) = json.loads(result.stdout)["plans"]
    # a cut at 2 s: the first shot (0-2 s) is the longest stretch that passes and is long enough
    assert plan["face_window"]["start"] == 0.0
    assert plan["face_window"]["end"] == pytest.approx(2.0, abs=0.25)
    assert not out.exists()


def test_no_usable_window_is_unfixable_and_writes_nothing(
    face_media: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "none.mp4"
    result = CliRunner().invoke(
        main, ["fix", str(face_media("none")), "--face-window", "-o", str(out)]
    )
    assert result.exit_code == 1
    assert "unfixable" in result.output
    assert "no part of the clip passes the face checks" in result.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_face_window_with_start_is_a_usage_error(face_media: Callable[[str], Path]) -> None:
    result = CliRunner().invoke(
        main, ["fix", str(face_media("leaves")), "--face-window", "--start", "1"]
    )
    assert result.exit_code == 2
    assert "--face-window" in result.output
