"""Face checks are not run where their answer cannot matter: a job that already fails an error
no fix mends. Fixable failures keep them (the face decides if a fix is worth paying for), and
``force_face`` / ``--face`` runs them anyway."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from preflight.checking.check import check, media_only
from preflight.checking.faces import unusable
from preflight.cli import main
from preflight.model.facts import AudioStream, MediaFacts, VideoStream
from preflight.model.job import Job
from preflight.rules.profiles import load_profile

PROFILE = media_only(load_profile("kling-lipsync"))
FULL = load_profile("kling-lipsync")

VIDEO = MediaFacts(
    source="clip.mp4",
    backend="test",
    container="mp4",
    extension="mp4",
    size_bytes=1000,
    duration=4.0,
    video=VideoStream(codec="h264", width=1280, height=720, duration=4.0, frame_rate=25.0),
    video_streams=1,
)
VOICE = MediaFacts(
    source="voice.mp3",
    backend="test",
    container="mp3",
    extension="mp3",
    size_bytes=1000,
    duration=4.0,
    audio=AudioStream(codec="mp3", sample_rate=44100, channels=1, duration=4.0),
    audio_streams=1,
)
NO_DURATION = replace(VIDEO, duration=None, video=replace(VIDEO.video, duration=None))  # type: ignore[arg-type]
SHORT = replace(VIDEO, duration=1.0, video=replace(VIDEO.video, duration=1.0))  # type: ignore[arg-type]
SILENT = replace(VOICE, audio=None, audio_streams=0, video=VIDEO.video, video_streams=1)


@pytest.mark.parametrize(
    ("job", "profile", "blocking_rule"),
    [
        (Job(name="ok", video=VIDEO), PROFILE, None),
        (Job(name="ok+voice", video=VIDEO, audio=VOICE), FULL, None),
        (Job(name="too short: fixable", video=SHORT), PROFILE, None),
        (Job(name="duration unreadable", video=NO_DURATION), PROFILE, "video.duration"),
        (Job(name="audio without sound", video=VIDEO, audio=SILENT), FULL, "audio.format"),
        (Job(name="short and silent", video=SHORT, audio=SILENT), FULL, "audio.format"),
    ],
    ids=lambda v: v.name if isinstance(v, Job) else None,
)
def test_unusable_names_the_first_error_no_fix_mends(
    job: Job, profile: object, blocking_rule: str | None
) -> None:
    reason = unusable(job, profile)  # type: ignore[arg-type]
    if blocking_rule is None:
        assert reason is None
    else:
        assert reason is not None
        assert f"already fails {blocking_rule}," in reason


def test_a_job_that_fails_for_good_is_not_analysed_unless_forced(
    media: Callable[[str], Path],
) -> None:
    clip, silent = str(media("short")), str(media("noaudio"))
    skipped = check([clip], audio=silent, cache=False).results[0]
    faces = [f for f in skipped.findings if f.rule.startswith("face.")]
    profile = load_profile("kling-lipsync")
    face_rules = [r for r, s in profile.rules.items() if r.startswith("face.") and s.enabled]
    assert sorted(f.rule for f in faces) == sorted(face_rules)  # each says why it was skipped
    assert all("already fails audio.format" in f.message for f in faces)
    assert skipped.timeline is None  # no frame was decoded

    forced = check([clip], audio=silent, cache=False, force_face=True).results[0]
    assert forced.timeline is not None  # the analysis ran
    assert not any("already fails" in f.message for f in forced.findings)

    # too short is fixable: the face checks still run, since they decide if a fix is worth it;
    # the live counter starts before the first video is decoded, and advances per video
    heard: list[tuple[str, int, int]] = []
    fixable = check(
        [clip, clip], cache=False, on_progress=lambda *step: heard.append(step)
    ).results[0]
    assert not fixable.ok
    assert fixable.timeline is not None
    assert [s for s in heard if s[0] == "faces"] == [
        ("faces", 0, 2),
        ("faces", 1, 2),
        ("faces", 2, 2),
    ]


def test_face_and_no_face_together_is_a_usage_error(media: Callable[[str], Path]) -> None:
    done = CliRunner().invoke(main, ["check", str(media("short")), "--face", "--no-face"])
    assert done.exit_code == 2
    assert "contradict" in done.output
