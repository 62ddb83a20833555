"""audio.* rules and job.av_duration, table-driven from facts."""

from __future__ import annotations

import pytest
from _facts import audio, audio_job, only, rules_of, video

from preflight.model.findings import Severity


def test_baseline_audio_job_passes() -> None:
    assert rules_of(audio_job()) == []


@pytest.mark.parametrize(
    ("name", "container", "fails"),
    [
        ("a.mp3", "mp3", False),
        ("a.wav", "wav", False),
        ("a.m4a", "mp4", False),
        ("a.aac", "adts", False),
        ("a.flac", "flac", True),
        ("a.ogg", "ogg", True),
        ("a.wav", "mp3", False),  # both accepted; the name check below catches real mismatches
        ("a.mp4", "mp4", True),  # MP4 audio named .mp4: the provider wants .m4a
        ("a.txt", "mp3", True),
    ],
)
def test_audio_format(name: str, container: str, fails: bool) -> None:
    found = only(audio_job(audio=audio(name=name, container=container)), "audio.format")
    assert bool(found) is fails
    if fails:
        assert found[0].fixable


def test_audio_without_audio_stream() -> None:
    (f,) = only(audio_job(audio=audio(has_audio=False)), "audio.format")
    assert "no audio stream" in f.message
    assert not f.fixable


@pytest.mark.parametrize(("size", "fails"), [(5_000_000, False), (5_000_001, True)])
def test_audio_size(size: int, fails: bool) -> None:
    found = only(audio_job(audio=audio(size=size)), "audio.size")
    assert bool(found) is fails


@pytest.mark.parametrize(
    ("duration", "fails"), [(1.99, True), (2.0, False), (60.0, False), (60.01, True)]
)
def test_audio_duration(duration: float, fails: bool) -> None:
    job = audio_job(audio=audio(duration=duration), video=video(duration=min(duration, 10.0)))
    assert bool(only(job, "audio.duration")) is fails


@pytest.mark.parametrize(
    ("video_s", "audio_s", "warns"),
    [(4.0, 4.0, False), (4.0, 4.5, False), (4.0, 4.51, True), (6.0, 4.0, True)],
)
def test_av_duration_mismatch_warns(video_s: float, audio_s: float, warns: bool) -> None:
    job = audio_job(video=video(duration=video_s), audio=audio(duration=audio_s))
    found = only(job, "job.av_duration")
    assert bool(found) is warns
    if warns:
        assert found[0].severity is Severity.WARNING
        assert found[0].fixable
        assert found[0].limit == 0.5
        assert ("audio" if audio_s > video_s else "video") + " is" in found[0].message
