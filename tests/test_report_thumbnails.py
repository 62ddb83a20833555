"""The report's thumbnail strips: one FFmpeg process per input, and the frames `frame_at` gives.

Real FFmpeg on clips generated into tmp_path; FFmpeg processes are counted from the runner's own
log (`preflight.ffmpeg` logs every argv it starts), so "one per input" cannot silently regress.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import subprocess
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from preflight.model.facts import MediaFacts
from preflight.probing import probe
from preflight.report.thumbnails import (
    THUMB_WIDTH,
    fix_frames,
    frame_at,
    report_thumbnails,
    strip,
)
from preflight.toolchain.binaries import ffmpeg_path


def ffmpeg_runs(caplog: pytest.LogCaptureFixture) -> int:
    return sum(r.getMessage().startswith("ffmpeg: ") for r in caplog.records)


def decoded(uri: str) -> np.ndarray:
    data = base64.b64decode(uri.removeprefix("data:image/jpeg;base64,"))
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    return image


@pytest.fixture(scope="module")
def ramp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s whose brightness grows with time (0 at the start, ~120 at 2 s, ~216 at 3.6 s): a
    frame's mean says which moment it is."""
    path = tmp_path_factory.mktemp("ramp") / "ramp.mp4"
    source = "color=c=black:s=640x360:r=25:d=4,format=yuv420p,geq=lum='min(255,T*60)':cb=128:cr=128"
    subprocess.run(
        [ffmpeg_path(), "-v", "error", "-y", "-f", "lavfi", "-i", source, "-c:v", "libx264",
         "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.mark.parametrize("clip", ["ramp", "rotated"])
def test_one_ffmpeg_makes_the_frames_frame_at_makes(
    clip: str, ramp: Path, media: Callable[[str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    facts = probe(ramp if clip == "ramp" else media("rotated"))
    caplog.set_level(logging.INFO, logger="preflight.ffmpeg")
    thumbs = strip(facts)
    assert ffmpeg_runs(caplog) == 1
    assert [t.label for t in thumbs] == ["start", "middle", "end"]
    singles = [frame_at(facts.source, t.time) for t in thumbs]
    assert ffmpeg_runs(caplog) == 4  # the comparison's own three
    means = []
    for thumb, single in zip(thumbs, singles, strict=True):
        assert single is not None
        ours, theirs = decoded(thumb.uri), decoded(single)
        assert ours.shape == theirs.shape
        assert ours.shape[1] == THUMB_WIDTH
        assert abs(float(ours.mean()) - float(theirs.mean())) < 2.0
        means.append(float(ours.mean()))
    if clip == "ramp":  # the same moments, in order: start dark, middle grey, end bright
        assert means[0] < 30 < means[1] - 60 < means[2] - 120
    else:  # the displayed picture: stored 1280x720, rotated 90 degrees
        assert decoded(thumbs[0].uri).shape[0] > THUMB_WIDTH


def test_a_report_runs_one_ffmpeg_per_input(
    ramp: Path, media: Callable[[str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    results = [("ramp", {"video": probe(ramp)}), ("ok", {"video": probe(media("ok"))})]
    results.append(("portrait", {"image": probe(media("jpg"))}))  # an image: one frame, one run
    caplog.set_level(logging.INFO, logger="preflight.ffmpeg")
    thumbs = report_thumbnails(results, workers=2)
    assert ffmpeg_runs(caplog) == 3
    assert [len(thumbs[name]) for name in ("ramp", "ok")] == [3, 3]
    (still,) = thumbs["portrait"]  # a JPEG: FFmpeg would pick the image2 demuxer by its name
    assert still.label == "image"
    assert decoded(still.uri).shape == (THUMB_WIDTH * 1280 // 720 // 2 * 2, THUMB_WIDTH)


def lying(facts: MediaFacts, seconds: float) -> MediaFacts:
    assert facts.video is not None
    return dataclasses.replace(facts, video=dataclasses.replace(facts.video, duration=seconds))


def test_a_moment_that_decodes_nothing_is_just_missing(ramp: Path) -> None:
    # the facts claim 40 s of a 4 s clip: the middle (20 s) and end (39.5 s) decode nothing
    thumbs = strip(lying(probe(ramp), 40.0))
    assert [t.label for t in thumbs] == ["start"]
    assert decoded(thumbs[0].uri).mean() < 30


def test_a_broken_file_has_no_strip_and_no_error(ramp: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(ramp.read_bytes()[:3000])
    facts = dataclasses.replace(probe(ramp), source=str(broken))
    assert strip(facts) == ()


def test_a_fix_report_runs_one_ffmpeg_for_the_source_and_one_for_the_output(
    media: Callable[[str], Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from preflight.fixing import FixOptions, fix

    src = tmp_path / "short.mp4"
    src.write_bytes(media("short").read_bytes())  # 1 s: too short, the fix extends it
    result = fix(src, output=tmp_path / "short.fixed.mp4", options=FixOptions(face=False))
    assert result.output, result.message
    caplog.set_level(logging.INFO, logger="preflight.ffmpeg")
    (pairs,) = fix_frames([result]).values()
    assert ffmpeg_runs(caplog) == 2
    assert [(b.label, a.label if a else None) for b, a in pairs] == [
        ("before, start", "after, start"),
        ("before, middle", "after, middle"),
    ]
    for before, after in pairs:  # the frames frame_at makes, at the same moments
        assert after is not None
        for thumb, path in ((before, src), (after, Path(result.output))):
            single = frame_at(str(path), thumb.time)
            assert single is not None
            assert decoded(thumb.uri).shape == decoded(single).shape
            assert abs(float(decoded(thumb.uri).mean()) - float(decoded(single).mean())) < 2.0
