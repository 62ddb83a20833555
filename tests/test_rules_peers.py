"""The rules the peer-host profiles need (frame rate, header metadata, audio streams, length
ratio) and the profiles themselves, table-driven from facts (no FFmpeg)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from _facts import audio, audio_job, only, rules_of, video
from click.testing import CliRunner

from preflight.cli import main
from preflight.model.errors import ConfigError
from preflight.model.facts import MediaFacts
from preflight.model.findings import Severity
from preflight.rules.profiles import list_profiles, load_profile

PEERS = ("sync-lipsync-2", "heygen-lipsync", "fal-latentsync", "videoretalk")


def _with_rate(facts: MediaFacts, rate: float | None) -> MediaFacts:
    assert facts.video is not None
    return dataclasses.replace(facts, video=dataclasses.replace(facts.video, frame_rate=rate))


@pytest.mark.parametrize(
    ("rate", "fails", "limit"),
    [(14.99, True, 15.0), (15.0, False, None), (30.0, False, None), (60.0, False, None),
     (60.01, True, 60.0), (None, False, None)],
)  # fmt: skip
def test_videoretalk_frame_rate_range(rate: float | None, fails: bool, limit: float) -> None:
    job = audio_job(video=_with_rate(video(width=1280, height=720), rate))
    found = only(job, "video.frame_rate", "videoretalk")
    assert bool(found) is fails
    if fails:
        (f,) = found
        assert (f.severity, f.fixable, f.limit) == (Severity.ERROR, True, limit)
        assert "fps" in f.message


@pytest.mark.parametrize(
    ("duration", "rate", "missing"),
    [
        (4.0, 25.0, None),
        (None, 25.0, ["duration"]),
        (4.0, None, ["frame_rate"]),
        (None, None, ["duration", "frame_rate"]),
    ],
)
def test_sync_needs_duration_and_frame_rate_in_the_header(
    duration: float | None, rate: float | None, missing: list[str] | None
) -> None:
    facts = _with_rate(video(duration=duration), rate)
    found = only(audio_job(video=facts), "video.metadata", "sync-lipsync-2")
    if missing is None:
        assert found == []
        return
    (f,) = found
    assert f.measured == missing
    assert f.fixable
    assert all(m.replace("_", " ") in f.message for m in missing)


@pytest.mark.parametrize(("streams", "fails"), [(1, False), (2, True), (3, True)])
def test_only_the_first_audio_stream_is_used(streams: int, fails: bool) -> None:
    track = dataclasses.replace(audio(), audio_streams=streams)
    found = only(audio_job(audio=track), "audio.streams", "sync-lipsync-2")
    assert bool(found) is fails
    if fails:
        (f,) = found
        assert (f.severity, f.measured, f.limit, f.fixable) == (Severity.WARNING, streams, 1, True)
        assert f"{streams} audio streams" in f.message


def test_audio_streams_are_read_from_the_video_when_no_audio_is_given() -> None:
    facts = dataclasses.replace(video(audio_duration=4.0), audio_streams=2)
    job = audio_job(video=facts, audio=None)
    assert [f.measured for f in only(job, "audio.streams", "sync-lipsync-2")] == [2]


@pytest.mark.parametrize(
    ("audio_s", "video_s", "fails"),
    [(4.0, 4.0, False), (4.6, 4.0, False), (3.4, 4.0, False), (4.61, 4.0, True),
     (3.39, 4.0, True), (30.0, 5.0, True)],
)  # fmt: skip
def test_heygen_audio_within_15_percent_of_the_video(
    audio_s: float, video_s: float, fails: bool
) -> None:
    job = audio_job(video=video(duration=video_s), audio=audio(duration=audio_s))
    found = only(job, "job.av_ratio", "heygen-lipsync")
    assert bool(found) is fails
    if fails:
        (f,) = found
        assert f.limit == pytest.approx(0.15)
        assert f.measured == pytest.approx(abs(audio_s - video_s) / video_s, abs=1e-4)
        assert ("longer" if audio_s > video_s else "shorter") in f.message


@pytest.mark.parametrize(
    ("codec", "profile", "severity"),
    [("vp9", "videoretalk", Severity.ERROR), ("vp9", "kling-lipsync", Severity.WARNING),
     ("hevc", "videoretalk", None)],
)  # fmt: skip
def test_codec_allow_list_is_an_error_where_the_host_says_so(
    codec: str, profile: str, severity: Severity | None
) -> None:
    found = only(audio_job(video=video(codec=codec)), "video.codec", profile)
    assert [f.severity for f in found] == ([] if severity is None else [severity])


@pytest.mark.parametrize("profile", PEERS)
def test_a_good_job_passes_every_peer_profile(profile: str) -> None:
    assert rules_of(audio_job(video=video(width=1280, height=720)), profile) == []


def test_peer_profiles_ship_and_name_their_sources() -> None:
    shipped = set(list_profiles())
    for name in PEERS:
        assert name in shipped
        profile = load_profile(name)
        assert profile.sources, name
        for rule, setting in profile.rules.items():
            assert setting.source, f"{name}: {rule} has no source"


@pytest.mark.parametrize("name", PEERS)
def test_rules_command_lists_each_peer_profile_with_its_sources(name: str) -> None:
    out = CliRunner().invoke(main, ["rules", "--profile", name])
    assert out.exit_code == 0, out.output
    profile = load_profile(name)
    assert "sources:" in out.output
    for key, where in profile.sources.items():
        assert f"  {key:<8} {where}" in out.output


def test_an_unknown_metadata_name_is_a_profile_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "sync-lipsync-2"\n[rules."video.metadata"]\nrequires = ["bitrate"]\n')
    with pytest.raises(ConfigError, match=r"bitrate.*choose from duration, frame_rate"):
        load_profile(bad)
