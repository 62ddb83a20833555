"""text.*, prompt.length and job.inputs rules, table-driven."""

from __future__ import annotations

import pytest
from _facts import audio, only, rules_of, text_job

from preflight.model.findings import Severity


@pytest.mark.parametrize(
    ("text", "fails"),
    [
        ("a" * 119, False),
        ("a" * 120, False),
        ("a" * 121, True),
        ("你" * 120, False),  # CJK counts one per character, not three bytes
        ("你" * 121, True),
        ("é" * 120, False),
        ("   ", True),
        ("", True),
    ],
)
def test_text_length(text: str, fails: bool) -> None:
    found = only(text_job(text=text), "text.length")
    assert bool(found) is fails
    if fails:
        assert not found[0].fixable
        assert found[0].limit == 120


def test_text_length_measures_characters() -> None:
    (f,) = only(text_job(text="你好" * 61), "text.length")
    assert f.measured == 122
    assert "122 characters" in f.message


@pytest.mark.parametrize(
    ("speed", "fails"),
    [(0.79, True), (0.8, False), (1.0, False), (2.0, False), (2.01, True), (None, False)],
)
def test_voice_speed(speed: float | None, fails: bool) -> None:
    found = only(text_job(voice_speed=speed), "text.voice_speed")
    assert bool(found) is fails
    if fails:
        assert found[0].measured == speed
        assert found[0].limit == [0.8, 2.0]
        assert not found[0].fixable


@pytest.mark.parametrize(
    ("voice", "language", "fails"),
    [
        ("genshin_klee2", "en", False),
        ("genshin_klee2", "zh", False),
        ("reader_en_m-v1", "en", False),
        ("reader_en_m-v1", "zh", True),  # an English-only voice with zh
        ("mengwa-v1", "zh", False),
        ("no_such_voice", "en", True),
    ],
)
def test_voice_id(voice: str, language: str, fails: bool) -> None:
    found = only(text_job(voice_id=voice, voice_language=language), "text.voice_id")
    assert bool(found) is fails
    if fails:
        assert not found[0].fixable
        assert voice in found[0].message


@pytest.mark.parametrize(
    ("language", "fails", "text"),
    [("en", False, None), ("zh", False, None), ("fr", True, "'fr'"), (None, True, "not given")],
)
def test_voice_language(language: str | None, fails: bool, text: str | None) -> None:
    found = only(text_job(voice_language=language), "text.voice_language")
    assert bool(found) is fails
    if fails:
        assert text is not None
        assert text in found[0].message


def test_voice_language_optional_on_wavespeed() -> None:
    job = text_job(voice_language=None)
    assert only(job, "text.voice_language", "wavespeed-kling-lipsync-t2v") == []


@pytest.mark.parametrize(
    ("fields", "expect"),
    [
        ({}, None),
        ({"audio": audio()}, "not both"),
        ({"text": None, "voice_id": None}, "nothing to lip-sync"),
        ({"text": None}, "a voice id without text"),
        ({"voice_id": None}, "text needs a voice id"),
        ({"video": None}, "no video given"),
    ],
)
def test_job_inputs(fields: dict[str, object], expect: str | None) -> None:
    found = only(text_job(**fields), "job.inputs")
    if expect is None:
        assert found == []
    else:
        assert found, fields
        assert expect in found[0].message
        assert found[0].severity is Severity.ERROR
        assert not found[0].fixable


def test_unreadable_audio_still_counts_as_given() -> None:
    job = text_job(text=None, voice_id=None, input_errors=(("audio", "no such file"),))
    assert rules_of(job) == ["input.readable"]


def test_wavespeed_t2v_refuses_audio() -> None:
    job = text_job(text=None, voice_id=None, voice_language=None, audio=audio())
    (f,) = only(job, "job.inputs", "wavespeed-kling-lipsync-t2v")
    assert "does not take audio" in f.message


@pytest.mark.parametrize(("length", "fails"), [(2500, False), (2501, True)])
def test_prompt_length(length: int, fails: bool) -> None:
    from _facts import image

    from preflight.model.job import Job

    job = Job(name="i", image=image(), prompt="字" * length, negative_prompt="no")
    assert bool(only(job, "prompt.length", "kling-image2video")) is fails
    job = Job(name="i", image=image(), negative_prompt="x" * length)
    assert bool(only(job, "prompt.length", "kling-image2video")) is fails


def test_media_the_endpoint_does_not_take() -> None:
    from _facts import image

    (f,) = only(text_job(image=image()), "job.inputs")
    assert f.message == "this endpoint takes no image"
    from preflight.model.job import Job

    found = only(
        Job(name="i", image=image(), video=text_job().video), "job.inputs", "kling-image2video"
    )
    assert [x.message for x in found] == ["this endpoint takes no video"]
