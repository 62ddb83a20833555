"""The sandbox's own table of the providers' limits (``preflight/sandbox/_limits.py``).

Table-driven, no FFmpeg: MediaFacts and text fields in, the sandbox's refusals out. Then the
point of a separate table: preflight's profiles are compared with it and must never accept what
the providers' documents (as the sandbox reads them) refuse. A profile may be stricter.
"""

from __future__ import annotations

from typing import Any

import pytest
from _facts import audio, image, video

from preflight.model.errors import InputError
from preflight.model.facts import MediaFacts
from preflight.rules.profiles import load_profile
from preflight.sandbox import _limits as limits
from preflight.sandbox._checks import Invalid, judge, media_problems, text_problems

VIDEO = limits.LIPSYNC_VIDEO
SECONDS, SIDE = VIDEO.seconds, VIDEO.side_px
assert SECONDS is not None
assert SIDE is not None


@pytest.mark.parametrize(
    ("facts", "words"),
    [
        (video(), None),
        (video(name="clip.mov", container="mov"), None),
        (video(duration=1.5), "lasts 1.50 s; it must last 2-10 s"),
        (video(duration=10.5), "lasts 10.50 s"),
        (video(duration=None), "has no duration"),
        (video(width=640, height=360), "is 640x360; each side must be 720-1920 px"),
        (video(width=1080, height=1922), "is 1080x1922"),
        (video(size=100_000_001), "larger than 100000000 bytes"),
        (video(name="clip.mkv", container="matroska"), "video format is matroska"),
        (video(name="clip.mp4", container="matroska"), "video format is matroska"),
        (video(name="clip.webm", container="mp4"), "name has .webm; accepted: .mp4, .mov"),
        (video(has_video=False), "video has no video"),
        (InputError("truncated file"), "video cannot be read as media: truncated file"),
    ],
)
def test_lip_sync_video(facts: MediaFacts | InputError, words: str | None) -> None:
    problems = media_problems(facts, VIDEO)
    if words is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert words in problems[0]


@pytest.mark.parametrize(
    ("facts", "words"),
    [
        (audio(), None),
        (audio(name="v.wav", container="wav"), None),
        (audio(name="v.m4a", container="mp4"), None),
        (audio(name="v.aac", container="adts"), None),
        (audio(name="v.flac", container="flac"), "audio format is flac"),
        (audio(name="v.mp4", container="mp4"), "name has .mp4"),
        (audio(size=5_000_001), "larger than 5000000 bytes"),
        (audio(duration=1.0), "must last 2-60 s"),
        (audio(duration=61.0), "must last 2-60 s"),
        (audio(has_audio=False), "audio has no audio"),
        (video(name="v.m4a", audio_duration=4.0), "audio format is mp4"),
    ],
)
def test_lip_sync_audio(facts: MediaFacts, words: str | None) -> None:
    problems = media_problems(facts, limits.LIPSYNC_AUDIO)
    assert problems == [] if words is None else words in " ".join(problems)


@pytest.mark.parametrize(
    ("facts", "words"),
    [
        (image(), None),
        (image(name="p.png", container="png"), None),
        (image(name="p.jpeg"), None),
        (image(width=299), "each side must be at least 300 px"),
        (image(width=300, height=800), "aspect ratio 0.38"),
        (image(width=1000, height=400), None),  # 2.5:1 exactly
        (image(name="p.gif", container="gif"), "image format is gif"),
        (image(size=10_000_001), "larger than 10000000 bytes"),
    ],
)
def test_image2video_image(facts: MediaFacts, words: str | None) -> None:
    problems = media_problems(facts, limits.IMAGE)
    assert problems == [] if words is None else words in " ".join(problems)


def fields(**kw: Any) -> dict[str, Any]:
    base = {"text": "Hello", "voice_id": "AOT", "voice_language": "en", "voice_speed": 1.0}
    return {**base, **kw}


@pytest.mark.parametrize(
    ("text", "kling_words", "wavespeed_words"),
    [
        (fields(), None, None),
        (fields(text="x" * 120), None, None),
        (fields(text="字" * 121), "longer than 120 characters", "longer than 120 characters"),
        (fields(voice_id="reader_en_m-v1"), None, "not a voice"),  # KL-CN adds it, SEED-W not
        (fields(voice_id="reader_en_m-v1", voice_language="zh"), "not a voice", "not a voice"),
        (fields(voice_language="fr"), "voice_language must be one of zh, en", "zh, en"),
        (fields(voice_speed=0.7), "voice_speed 0.7 is outside 0.8-2", "outside 0.8-2"),
        (fields(voice_speed=2.0), None, None),
    ],
)
def test_text_fields(
    text: dict[str, Any], kling_words: str | None, wavespeed_words: str | None
) -> None:
    for table, words in (
        (limits.KLING_TEXT, kling_words),
        (limits.WAVESPEED_TEXT, wavespeed_words),
    ):
        problems = text_problems(text, table)
        assert problems == [] if words is None else words in " ".join(problems)


def test_judge_lists_every_problem_of_a_request() -> None:
    endpoint = limits.ENDPOINTS["kling lip-sync audio2video"]
    with pytest.raises(Invalid) as caught:
        judge(endpoint, {"video": video(duration=1.0), "audio": audio(size=6_000_000)})
    assert "video lasts 1.00 s" in caught.value.message
    assert "audio is larger than 5000000 bytes" in caught.value.message
    judge(endpoint, {"video": video(), "audio": audio()})  # a good request passes


def test_every_limit_names_its_source() -> None:
    media = [limits.LIPSYNC_VIDEO, limits.LIPSYNC_AUDIO, limits.ADVANCED_VIDEO]
    media += [limits.ADVANCED_AUDIO, limits.IMAGE, limits.UPLOAD]
    media += [limits.FAL_VIDEO, limits.FAL_AUDIO, limits.FAL_UPLOAD]
    for item in media:
        assert item.source, item
        for span in (item.seconds, item.side_px, item.aspect):
            assert span is None or span.source, item
    for text in (limits.KLING_TEXT, limits.WAVESPEED_TEXT, limits.FAL_TEXT):
        assert text.source
        assert text.speed.source


# -- the profiles against the providers' documents ---------------------------------------------

# (profile, rule, key, sandbox value, "max" | "min"): the profile may be stricter, never looser
BOUNDS = [
    ("kling-lipsync", "video.duration", "min", SECONDS.low, "min"),
    ("kling-lipsync", "video.duration", "max", SECONDS.high, "max"),
    ("kling-lipsync", "video.width", "min", SIDE.low, "min"),
    ("kling-lipsync", "video.width", "max", SIDE.high, "max"),
    ("kling-lipsync", "video.height", "min", SIDE.low, "min"),
    ("kling-lipsync", "video.height", "max", SIDE.high, "max"),
    ("kling-lipsync", "video.size", "max_bytes", VIDEO.max_bytes, "max"),
    ("kling-lipsync", "audio.size", "max_bytes", limits.LIPSYNC_AUDIO.max_bytes, "max"),
    ("kling-lipsync", "audio.duration", "min", 2, "min"),
    ("kling-lipsync", "audio.duration", "max", 60, "max"),
    ("kling-lipsync", "text.length", "max", limits.KLING_TEXT.max_chars, "max"),
    ("kling-lipsync", "text.voice_speed", "min", limits.KLING_TEXT.speed.low, "min"),
    ("kling-lipsync", "text.voice_speed", "max", limits.KLING_TEXT.speed.high, "max"),
    ("kling-advanced-lipsync", "video.duration", "max", 60, "max"),
    ("kling-advanced-lipsync", "video.width", "min", 512, "min"),
    ("kling-advanced-lipsync", "video.width", "max", 2160, "max"),
    ("kling-advanced-lipsync", "audio.size", "max_bytes", limits.ADVANCED_AUDIO.max_bytes, "max"),
    ("kling-image2video", "image.size", "max_bytes", limits.IMAGE.max_bytes, "max"),
    ("kling-image2video", "image.dimensions", "min_side", limits.IMAGE.min_side_px, "min"),
    ("kling-image2video", "image.aspect", "min_ratio", 0.4, "min"),
    ("kling-image2video", "image.aspect", "max_ratio", 2.5, "max"),
    ("kling-image2video", "prompt.length", "max", limits.PROMPT, "max"),
    ("wavespeed-kling-lipsync-t2v", "video.duration", "max", 10, "max"),
    ("wavespeed-kling-lipsync-t2v", "text.length", "max", 120, "max"),
    ("wavespeed-kling-lipsync-a2v", "audio.size", "max_bytes", 5_000_000, "max"),
    *[
        (name, rule, key, value, side)
        for name in ("fal-kling-lipsync-a2v", "fal-kling-lipsync-t2v")
        for rule, key, value, side in (
            ("video.duration", "min", limits.FAL_VIDEO.seconds.low, "min"),  # type: ignore[union-attr]
            ("video.duration", "max", limits.FAL_VIDEO.seconds.high, "max"),  # type: ignore[union-attr]
            ("video.width", "min", limits.FAL_VIDEO.side_px.low, "min"),  # type: ignore[union-attr]
            ("video.height", "max", limits.FAL_VIDEO.side_px.high, "max"),  # type: ignore[union-attr]
            ("video.size", "max_bytes", limits.FAL_VIDEO.max_bytes, "max"),
        )
    ],
    ("fal-kling-lipsync-a2v", "audio.size", "max_bytes", limits.FAL_AUDIO.max_bytes, "max"),
    ("fal-kling-lipsync-a2v", "audio.duration", "min", 2, "min"),
    ("fal-kling-lipsync-a2v", "audio.duration", "max", 60, "max"),
    ("fal-kling-lipsync-t2v", "text.length", "max", limits.FAL_TEXT.max_chars, "max"),
    ("fal-kling-lipsync-t2v", "text.voice_speed", "min", limits.FAL_TEXT.speed.low, "min"),
    ("fal-kling-lipsync-t2v", "text.voice_speed", "max", limits.FAL_TEXT.speed.high, "max"),
]


@pytest.mark.parametrize(("profile", "rule", "key", "documented", "side"), BOUNDS)
def test_profiles_never_accept_what_the_documents_refuse(
    profile: str, rule: str, key: str, documented: float, side: str
) -> None:
    value = load_profile(profile).param(rule, key)
    if side == "max":
        assert value <= documented, f"{profile} {rule}.{key} = {value} > {documented}"
    else:
        assert value >= documented, f"{profile} {rule}.{key} = {value} < {documented}"


@pytest.mark.parametrize(
    "profile", ["kling-lipsync", "wavespeed-kling-lipsync-t2v", "fal-kling-lipsync-t2v"]
)
def test_profile_voices_are_documented_voices(profile: str) -> None:
    tables = {
        "kling": limits.KLING_TEXT,
        "wavespeed": limits.WAVESPEED_TEXT,
        "fal": limits.FAL_TEXT,
    }
    table = tables[profile.split("-", 1)[0]]
    setting = load_profile(profile).setting("text.voice_id")
    assert setting is not None
    assert set(setting.params["voices"]) <= table.voices
    for language, ids in dict(setting.params.get("language_voices") or {}).items():
        assert set(ids) <= table.language_voices.get(language, frozenset())
