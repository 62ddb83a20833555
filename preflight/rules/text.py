"""Rules on the request's text fields: lip-sync text and voice, image2video prompt."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from preflight.model.job import Job
from preflight.rules.base import Param, ParamType, Rule, Violation, fmt_num

__all__ = ["RULES", "char_count"]


def char_count(text: str) -> int:
    """Length in Unicode characters (code points): a CJK character counts 1, as does an emoji."""
    return len(text)


def check_length(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The lip-sync text must be non-empty and at most ``max`` Unicode characters.

    Characters are code points, so each CJK character counts 1 (not its 3 UTF-8 bytes). Applies
    only when the job has text. Not fixable: shortening what is said is the user's decision.
    """
    if job.text is None:
        return
    limit = params.get("max")
    count = char_count(job.text)
    if not job.text.strip():
        yield Violation("text is empty", count, limit, False)
    elif limit is not None and count > limit:
        yield Violation(
            f"text is {count} characters, above the maximum of {limit}", count, limit, False
        )


def check_voice_id(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The voice id must be one the endpoint knows.

    ``voices`` lists ids valid in any language; ``language_voices`` maps a language to further ids
    valid only with that ``voice_language``. Applies when the job has text and a voice id (a missing
    voice id is `job.inputs`' finding). Not fixable.
    """
    voice = job.voice_id
    if job.text is None or voice is None:
        return
    common = tuple(params.get("voices", ()))
    by_language: Mapping[str, tuple[str, ...]] = params.get("language_voices", {})
    if voice in common:
        return
    languages = sorted(lang for lang, ids in by_language.items() if voice in ids)
    if languages and (job.voice_language is None or job.voice_language in languages):
        return
    known = len(common) + sum(len(ids) for ids in by_language.values())
    if languages:
        message = (
            f"voice id {voice!r} is a {'/'.join(languages)} voice, "
            f"but voice_language is {job.voice_language!r}"
        )
    else:
        message = f"voice id {voice!r} is not one of the {known} voices this endpoint knows"
        every = [*common, *(v for ids in by_language.values() for v in ids)]
        import difflib  # only for an unknown voice id: ~1.5 ms of every check's start-up

        close = difflib.get_close_matches(voice, every, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {close[0]}?"
        message += " (`preflight voices` lists them)"
    yield Violation(message, voice, f"one of {known} known voice ids", False)


def check_voice_language(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The voice language must be one of ``allowed``; with ``required``, it must be given.

    The sources disagree on the default language (zh officially, en on WaveSpeed), so the Kling
    profiles require it to be stated. Applies only when the job has text. Not fixable.
    """
    if job.text is None:
        return
    allowed = tuple(params.get("allowed", ()))
    language = job.voice_language
    if language is None:
        if params.get("required", False):
            yield Violation(
                "voice_language is not given; the endpoint's default is ambiguous, so state it "
                f"({' or '.join(allowed)})",
                None,
                list(allowed),
                False,
            )
        return
    if allowed and language not in allowed:
        yield Violation(
            f"voice_language is {language!r}; accepted: {', '.join(allowed)}",
            language,
            list(allowed),
            False,
        )


def check_voice_speed(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The voice speed must lie within ``min``..``max`` (both inclusive), when given.

    The raw value is checked, before the provider's rounding to one decimal, so 0.79 fails even
    though the server might round it to 0.8. Not fixable (it is a request field, not media).
    """
    speed = job.voice_speed
    if job.text is None or speed is None:
        return
    low, high = params.get("min"), params.get("max")
    if (low is not None and speed < low) or (high is not None and speed > high):
        yield Violation(
            f"voice_speed is {fmt_num(speed)}; accepted: {fmt_num(low or 0)}–"
            f"{fmt_num(high) if high is not None else '∞'}",
            speed,
            [low, high],
            False,
        )


def check_prompt_length(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The prompt and the negative prompt must each be at most ``max`` Unicode characters.

    Not fixable.
    """
    limit = params.get("max")
    if limit is None:
        return
    for label, text in (("prompt", job.prompt), ("negative_prompt", job.negative_prompt)):
        if text is not None and char_count(text) > limit:
            count = char_count(text)
            yield Violation(
                f"{label} is {count} characters, above the maximum of {limit}", count, limit, False
            )


RULES = (
    Rule("text.length", check_length, {"max": Param(ParamType.INTEGER, help="characters")}),
    Rule(
        "text.voice_id",
        check_voice_id,
        {
            "voices": Param(ParamType.STRINGS, [], "ids valid in any language"),
            "language_voices": Param(
                ParamType.STRING_LISTS, {}, "language -> ids valid only in that language"
            ),
        },
    ),
    Rule(
        "text.voice_language",
        check_voice_language,
        {
            "allowed": Param(ParamType.STRINGS, ["zh", "en"], "language codes"),
            "required": Param(ParamType.BOOL, False, "the language must be stated"),
        },
    ),
    Rule(
        "text.voice_speed",
        check_voice_speed,
        {
            "min": Param(ParamType.NUMBER, help="slowest (inclusive)"),
            "max": Param(ParamType.NUMBER, help="fastest (inclusive)"),
        },
    ),
    Rule(
        "prompt.length", check_prompt_length, {"max": Param(ParamType.INTEGER, help="characters")}
    ),
)
