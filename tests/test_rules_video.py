"""video.* rules, table-driven from facts (no FFmpeg)."""

from __future__ import annotations

import pytest
from _facts import only, rules_of, run, text_job, video

from preflight.model.findings import Severity


def test_baseline_job_passes() -> None:
    assert rules_of(text_job()) == []


@pytest.mark.parametrize(
    ("duration", "fails"),
    [(1.99, True), (2.0, False), (4.0, False), (10.0, False), (10.0004, False), (10.01, True)],
)
def test_duration_boundaries(duration: float, fails: bool) -> None:
    found = only(text_job(video=video(duration=duration)), "video.duration")
    assert bool(found) is fails
    if fails:
        (f,) = found
        assert f.severity is Severity.ERROR
        assert f.fixable is True
        assert f.measured == pytest.approx(duration)
        assert f.limit == (2.0 if duration < 2 else 10.0)
        assert ("below" if duration < 2 else "above") in f.message


def test_duration_unknown_is_reported_not_fixable() -> None:
    (f,) = only(text_job(video=video(duration=None)), "video.duration")
    assert f.measured is None
    assert not f.fixable


@pytest.mark.parametrize(
    ("side", "value", "fails"),
    [
        ("width", 719, True),
        ("width", 720, False),
        ("width", 1920, False),
        ("width", 1921, True),
        ("height", 719, True),
        ("height", 720, False),
        ("height", 1920, False),
        ("height", 1921, True),
    ],
)
def test_side_boundaries(side: str, value: int, fails: bool) -> None:
    dims = {"width": 1280, "height": 1280, side: value}
    found = only(text_job(video=video(**dims)), f"video.{side}")
    assert bool(found) is fails
    if fails:
        assert found[0].measured == value
        assert found[0].limit == (720 if value < 720 else 1920)
        assert found[0].fixable


def test_rotated_video_is_judged_by_display_size() -> None:
    # stored 3840x2160, rotated 90: a viewer sees 2160x3840 -> both sides too large
    facts = video(width=2160, height=3840, coded=(3840, 2160), rotation=90)
    found = only(text_job(video=facts), "video.width") + only(text_job(video=facts), "video.height")
    assert [f.measured for f in found] == [2160, 3840]
    assert "rotated 90°" in found[0].message
    assert "stored 3840 px" in found[0].message


def test_rotated_portrait_720p_passes() -> None:
    facts = video(width=720, height=1280, coded=(1280, 720), rotation=90)
    assert rules_of(text_job(video=facts)) == []


def test_non_square_pixels_use_display_width() -> None:
    # 1440x1080 stored with SAR 4:3 is 1920 wide on screen: in range
    ok = video(width=1920, height=1080, coded=(1440, 1080), sar="4:3")
    assert rules_of(text_job(video=ok)) == []
    # 1600x1080 with SAR 4:3 is 2133 wide on screen: too wide although the stored width fits
    wide = video(width=2133, height=1080, coded=(1600, 1080), sar="4:3")
    (f,) = only(text_job(video=wide), "video.width")
    assert f.measured == 2133
    assert "pixel aspect 4:3" in f.message


@pytest.mark.parametrize(
    ("size", "fails"), [(99_999_999, False), (100_000_000, False), (100_000_001, True)]
)
def test_size_exact_byte_limit(size: int, fails: bool) -> None:
    found = only(text_job(video=video(size=size)), "video.size")
    assert bool(found) is fails
    if fails:
        assert found[0].measured == size
        assert found[0].limit == 100_000_000
        assert found[0].fixable


@pytest.mark.parametrize(
    ("name", "container", "fails", "text"),
    [
        ("clip.mp4", "mp4", False, None),
        ("clip.MOV", "mov", False, None),
        ("clip.mov", "mp4", False, None),  # same ISO family
        ("clip.mp4", "matroska", True, "the name says .mp4 but the content is matroska"),
        ("clip.mkv", "matroska", True, "container is matroska"),
        ("clip.webm", "webm", True, "container is webm"),
        ("clip.mkv", "mp4", True, "file name has .mkv"),
        ("clip", "mp4", True, "no extension"),
        ("clip.mp4", None, True, "unknown container"),
    ],
)
def test_container(name: str, container: str | None, fails: bool, text: str | None) -> None:
    found = only(text_job(video=video(name=name, container=container)), "video.container")
    assert bool(found) is fails
    if fails:
        assert text is not None
        assert text in found[0].message
        assert found[0].fixable  # remux / rename


def test_lying_extension_is_a_fixable_container_finding() -> None:
    (f,) = only(text_job(video=video(name="talk.mp4", container="matroska")), "video.container")
    assert f.measured == "matroska"
    assert f.limit == ["mp4", "mov"]
    assert f.fixable


def test_no_video_stream() -> None:
    facts = video(has_video=False, audio_duration=4.0)
    assert rules_of(text_job(video=facts)) == ["video.stream"]
    (f,) = only(text_job(video=facts), "video.stream")
    assert "audio-only" in f.message
    assert not f.fixable


@pytest.mark.parametrize(("codec", "fails"), [("h264", False), ("hevc", False), ("prores", True)])
def test_codec_is_a_warning(codec: str, fails: bool) -> None:
    found = only(text_job(video=video(codec=codec)), "video.codec")
    assert bool(found) is fails
    if fails:
        assert found[0].severity is Severity.WARNING
        assert found[0].fixable


@pytest.mark.parametrize(
    ("profile", "low_s", "high_s", "low_px", "high_px"),
    [
        ("kling-lipsync", 2.0, 10.0, 720, 1920),
        ("kling-advanced-lipsync", 2.0, 60.0, 512, 2160),
        ("wavespeed-kling-lipsync-t2v", 2.0, 10.0, 720, 1920),
        ("wavespeed-kling-lipsync-a2v", 2.0, 10.0, 720, 1920),
    ],
)
def test_each_profile_at_its_own_boundaries(
    profile: str, low_s: float, high_s: float, low_px: int, high_px: int
) -> None:
    def verdict(**kw: object) -> set[str]:
        job = text_job(video=video(**kw))  # type: ignore[arg-type]
        return {f.rule for f in run(job, profile) if f.rule.startswith("video.")}

    assert verdict(duration=low_s) == set()
    assert verdict(duration=high_s) == set()
    assert verdict(duration=round(low_s - 0.01, 2)) == {"video.duration"}
    assert verdict(duration=high_s + 0.01) == {"video.duration"}
    assert verdict(width=low_px, height=high_px) == set()
    assert verdict(width=low_px - 1, height=high_px) == {"video.width"}
    assert verdict(width=high_px + 1, height=low_px) == {"video.width"}
    assert verdict(width=low_px, height=high_px + 1) == {"video.height"}
