"""Request checks. The shape of a body is checked here; every limit comes from the profiles.

The structural checks (the ``input`` wrapper, exactly one video, mode and audio_type agreeing with
the fields sent, required fields present, types) run before any media is fetched. The limits
(text length, voices, voice speed, media format, size, duration, dimensions) are the shipped
profiles' rules, run by ``preflight.checking.evaluate`` on the probed media: the sandbox refuses
exactly what
``preflight check`` flags as an error.
"""

from __future__ import annotations

from typing import Any

from preflight.checking.evaluate import evaluate
from preflight.model.findings import Severity
from preflight.model.job import Job
from preflight.model.profile import Profile

__all__ = ["Invalid", "judge", "lip_sync_input", "number", "text_fields"]


class Invalid(Exception):
    """A request the provider refuses. ``kind``: missing | invalid | unreachable."""

    def __init__(self, message: str, *, kind: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


def judge(job: Job, profile: Profile, *, only: tuple[str, ...] = ()) -> None:
    """Raise Invalid listing every error the profile finds (``only``: rule id prefixes)."""
    errors = [
        f
        for f in evaluate(job, profile)
        if f.severity is Severity.ERROR
        and (not only or f.rule == "input.readable" or f.rule.startswith(only))
    ]
    if errors:
        raise Invalid("; ".join(f"{f.message} [{f.rule}]" for f in errors))


def number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"{name} must be a number")
    if not low <= value <= high:
        raise Invalid(f"{name} must be between {low:g} and {high:g}")
    return float(value)


def text_fields(
    src: dict[str, Any], prefix: str, *, default_voice: str | None, default_language: str
) -> dict[str, Any]:
    """text / voice_id / voice_language / voice_speed, with the endpoint's defaults filled in."""
    text = src.get("text")
    if not isinstance(text, str) or not text.strip():
        raise Invalid(f"{prefix}text is required for text2video", kind="missing")
    voice = src.get("voice_id") or default_voice
    if not voice:
        raise Invalid(f"{prefix}voice_id is required with text", kind="missing")
    language = src.get("voice_language") or default_language
    speed = src.get("voice_speed", 1.0)
    for key, value, kind in (("voice_id", voice, str), ("voice_language", language, str)):
        if not isinstance(value, kind):
            raise Invalid(f"{prefix}{key} must be a string")
    if isinstance(speed, bool) or not isinstance(speed, int | float):
        raise Invalid(f"{prefix}voice_speed must be a number")
    # one decimal: more precision is rounded (KL-CN)
    return {
        "text": text,
        "voice_id": voice,
        "voice_language": language,
        "voice_speed": round(float(speed), 1),
    }


AUDIO_KEYS = ("audio_type", "audio_url", "audio_file")
TEXT_KEYS = ("text", "voice_id")


def lip_sync_input(body: Any) -> dict[str, Any]:
    """The checked ``input`` of a Kling lip-sync create (wire body ``{"input": {...}}``)."""
    if not isinstance(body, dict):
        raise Invalid("the request body must be a JSON object")
    inp = body.get("input")
    if not isinstance(inp, dict):
        if any(k in body for k in ("video_url", "video_id", "mode", "text", "audio_type")):
            raise Invalid("the parameters must be inside `input`")
        raise Invalid("input is required", kind="missing")
    video_url, video_id = inp.get("video_url"), inp.get("video_id")
    if bool(video_url) == bool(video_id):
        raise Invalid("exactly one of input.video_url and input.video_id is required")
    for key, value in (("video_url", video_url), ("video_id", video_id)):
        if value is not None and not isinstance(value, str):
            raise Invalid(f"input.{key} must be a string")
    out: dict[str, Any] = {"video_url": video_url, "video_id": video_id}
    mode = inp.get("mode")
    if mode == "text2video":
        if any(inp.get(k) for k in AUDIO_KEYS):
            raise Invalid("text2video takes text and a voice, not audio_type/audio_url/audio_file")
        out.update(text_fields(inp, "input.", default_voice=None, default_language="zh"))
    elif mode == "audio2video":
        if any(inp.get(k) for k in TEXT_KEYS):
            raise Invalid("audio2video takes audio, not text/voice_id")
        audio_type = inp.get("audio_type")
        if audio_type == "url":
            if not isinstance(inp.get("audio_url"), str) or not inp["audio_url"]:
                raise Invalid("input.audio_url is required with audio_type url", kind="missing")
            if inp.get("audio_file"):
                raise Invalid("audio_type url takes audio_url, not audio_file")
            out["audio_url"] = inp["audio_url"]
        elif audio_type == "file":
            if not isinstance(inp.get("audio_file"), str) or not inp["audio_file"]:
                raise Invalid("input.audio_file is required with audio_type file", kind="missing")
            if inp.get("audio_url"):
                raise Invalid("audio_type file takes audio_file, not audio_url")
            out["audio_file"] = inp["audio_file"]
        else:
            raise Invalid("input.audio_type must be url or file for audio2video")
        out["audio_type"] = audio_type
    else:
        raise Invalid("input.mode must be text2video or audio2video")
    out["mode"] = mode
    return out
