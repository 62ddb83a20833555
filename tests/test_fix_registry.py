"""The fix registry matches the rules: a rule whose findings can be fixable has a fix, and only it.

Three views of "fixable" must agree: the rule's documentation (``Fixable:`` in its docstring,
which `preflight rules` and docs/check.md show), the findings it yields on real-shaped facts, and
the fix registry. Adding a fixable rule without its fix (or the reverse) fails here.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from preflight.checking.evaluate import evaluate
from preflight.fixing import registry
from preflight.fixing.plan import FixOptions
from preflight.fixing.planner import plan
from preflight.model.facts import AudioStream, ImageInfo, MediaFacts, VideoStream
from preflight.model.findings import Finding, Severity
from preflight.model.job import Job
from preflight.rules.profiles import list_profiles, load_profile
from preflight.rules.registry import all_rules
from preflight.rules.registry import get as get_rule


def _documented_fixable() -> set[str]:
    return {rule.id for rule in all_rules() if "Fixable:" in rule.doc}


def test_documented_fixable_rules_are_exactly_the_registered_fixes() -> None:
    assert _documented_fixable() == set(registry.fixable_rules())


def test_every_fix_answers_a_known_rule() -> None:
    for rule_id in registry.fixable_rules():
        assert get_rule(rule_id).id == rule_id


def test_lookup_of_a_rule_without_a_fix_fails_loudly() -> None:
    with pytest.raises(registry.UnknownFixError, match=r"video\.stream.*known: .*video\.size"):
        registry.get("video.stream", "video")
    with pytest.raises(KeyError):
        registry.get("video.size", "audio")  # a video fix is not an audio one
    assert registry.get("job.av_duration", "audio") is not registry.get("job.av_duration", "video")


def test_a_fixable_finding_without_a_fix_is_a_bug_not_a_silent_skip() -> None:
    facts = _corpus()[0]
    bogus = Finding("video.sparkle", Severity.ERROR, "not sparkly enough", fixable=True)
    with pytest.raises(registry.UnknownFixError, match=r"video\.sparkle"):
        plan(facts, [bogus], load_profile("kling-lipsync"), FixOptions())


def _video(**kw: object) -> MediaFacts:
    stream = VideoStream(
        codec=str(kw.pop("codec", "h264")),
        width=int(kw.pop("width", 1280)),  # type: ignore[call-overload]
        height=int(kw.pop("height", 720)),  # type: ignore[call-overload]
        duration=float(kw.pop("duration", 5.0)),  # type: ignore[arg-type]
        frame_rate=kw.pop("fps", 25.0),  # type: ignore[arg-type]
    )
    audio = AudioStream(codec="aac", sample_rate=48000, channels=2, duration=stream.duration)
    facts = MediaFacts(
        source="/in/clip.mp4",
        backend="test",
        container="mp4",
        extension="mp4",
        size_bytes=3_000_000,
        duration=stream.duration,
        video=stream,
        audio=audio,
        video_streams=1,
        audio_streams=1,
    )
    return replace(facts, **kw)  # type: ignore[arg-type]


def _sound(**kw: object) -> MediaFacts:
    track = AudioStream(codec="mp3", sample_rate=44100, channels=1, duration=5.0, bit_rate=128_000)
    facts = MediaFacts(
        source="/in/voice.mp3",
        backend="test",
        container="mp3",
        extension="mp3",
        size_bytes=80_000,
        duration=5.0,
        audio=track,
        audio_streams=1,
    )
    if "seconds" in kw:
        seconds = float(kw.pop("seconds"))  # type: ignore[arg-type]
        facts = replace(facts, duration=seconds, audio=replace(track, duration=seconds))
    return replace(facts, **kw)  # type: ignore[arg-type]


def _corpus() -> list[MediaFacts]:
    """Facts that break every media rule at least once (and some that break several)."""
    return [
        _video(),
        _video(container="matroska", extension="mkv"),
        _video(extension="webm"),
        _video(container=None),
        _video(codec="vp9"),
        _video(duration=30.0),
        _video(duration=0.5),
        _video(width=3840, height=2160),
        _video(width=640, height=360),
        _video(width=1080, height=2400),
        _video(size_bytes=900_000_000),
        _video(video=None, video_streams=0),
        _video(fps=120.0),
        _video(fps=5.0),
        _video(fps=None),
        _video(audio_streams=2),
        _sound(),
        _sound(container="ogg", extension="ogg"),
        _sound(extension="wav"),
        _sound(seconds=0.5),
        _sound(seconds=900.0),
        _sound(size_bytes=90_000_000),
        _sound(audio_streams=3),
    ]


def _image() -> MediaFacts:
    image = ImageInfo(codec="webp", width=100, height=2000)
    return MediaFacts(
        source="/in/face.webp",
        backend="test",
        container="webp_pipe",
        extension="webp",
        size_bytes=20_000_000,
        image=image,
    )


def test_fixable_findings_come_only_from_rules_with_fixes_and_every_fix_is_reachable() -> None:
    seen: set[str] = set()
    for name in list_profiles():
        profile = load_profile(name)
        videos, sounds = _corpus()[:16], _corpus()[16:]
        jobs = [Job(name="v", video=v) for v in videos]
        jobs += [Job(name="p", video=v, audio=a) for v, a in itertools.product(videos[:2], sounds)]
        jobs += [Job(name="i", image=_image(), prompt="hi")]
        for job in jobs:
            for finding in evaluate(job, profile):
                if finding.fixable:
                    assert finding.rule in registry.fixable_rules(), finding
                    seen.add(finding.rule)
    assert seen == set(registry.fixable_rules())
