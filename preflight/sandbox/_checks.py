"""Request checks: the shape of a body, then the published limits of ``_limits``.

The structural checks (the ``input`` wrapper, exactly one video, mode and audio_type agreeing with
the fields sent, required fields present, types) run before any media is fetched. The limits
(text length, voices, voice speed, media format, size, duration, dimensions) come from the
sandbox's own table (``_limits``), applied here to the probed media by small functions of its
own: the sandbox never asks preflight's rule engine or profiles, so the two can disagree, and a
test that submits what ``preflight check`` passed finds out when they do.
"""

from __future__ import annotations

import json
from typing import Any

from preflight.model.errors import InputError
from preflight.model.facts import MediaFacts
from preflight.sandbox._limits import Endpoint, Media, Text

__all__ = [
    "Invalid",
    "judge",
    "lip_sync_input",
    "media_problems",
    "number",
    "parse_json",
    "text_fields",
    "text_problems",
]


class Invalid(Exception):
    """A request the provider refuses. ``kind``: missing | invalid | unreachable."""

    def __init__(self, message: str, *, kind: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


def judge(
    endpoint: Endpoint,
    media: dict[str, MediaFacts | InputError],
    text: dict[str, Any] | None = None,
    prompts: dict[str, str | None] | None = None,
) -> None:
    """Raise Invalid listing every limit of ``endpoint`` these inputs and fields break.

    ``media`` maps a role (video, audio, image) to its probe; a role the endpoint does not
    take is a sandbox bug, not a client's.
    """
    problems: list[str] = []
    for role, facts in media.items():
        limits = getattr(endpoint, role)
        if not isinstance(limits, Media):
            raise ValueError(f"{endpoint.path} takes no {role}")
        problems += media_problems(facts, limits)
    if text is not None and endpoint.text is not None:
        problems += text_problems(text, endpoint.text)
    if prompts and endpoint.prompt_max_chars is not None:
        for key, value in prompts.items():
            if value is not None and len(value) > endpoint.prompt_max_chars:
                problems.append(f"{key} is longer than {endpoint.prompt_max_chars} characters")
    if problems:
        raise Invalid("; ".join(problems))


# what the probe calls a container -> the provider's name for the format (a file extension)
_AUDIO_FORMAT = {"mp3": "mp3", "wav": "wav", "adts": "aac", "mp4": "m4a", "mov": "m4a"}
_IMAGE_FORMAT = {"jpeg": "jpg", "jpeg_pipe": "jpg", "mjpeg": "jpg", "png": "png", "png_pipe": "png"}
_SAME_NAME = {"jpeg": "jpg"}


def media_problems(facts: MediaFacts | InputError, limits: Media) -> list[str]:
    """What a provider would refuse in one input, as sentences; [] when it is fine."""
    role = limits.role
    if isinstance(facts, InputError):
        return [f"{role} cannot be read as media: {facts}"]
    problems = _format_problems(facts, limits)
    if problems:
        return problems
    if facts.size_bytes > limits.max_bytes:
        problems.append(f"{role} is larger than {limits.max_bytes} bytes")
    seconds = facts.effective_duration
    if limits.seconds is not None:
        if seconds is None:
            problems.append(f"{role} has no duration")
        elif not limits.seconds.holds(seconds):
            problems.append(
                f"{role} lasts {seconds:.2f} s; it must last {limits.seconds.text(' s')}"
            )
    if limits.side_px is not None and facts.video is not None:
        size = (facts.video.width, facts.video.height)
        if None in size or not all(limits.side_px.holds(side or 0) for side in size):
            problems.append(
                f"{role} is {size[0]}x{size[1]}; each side must be {limits.side_px.text(' px')}"
            )
    problems += _image_problems(facts, limits)
    return problems


def _format_problems(facts: MediaFacts, limits: Media) -> list[str]:
    role, allowed = limits.role, limits.formats
    if limits.kind == "image":
        codec = facts.image.codec if facts.image and facts.image.codec else ""
        fmt = _IMAGE_FORMAT.get(facts.container or "") or _IMAGE_FORMAT.get(codec)
    elif limits.kind == "audio":
        if facts.audio is None:
            return [f"{role} has no audio"]
        fmt = _AUDIO_FORMAT.get(facts.container or "")
        if fmt == "m4a" and facts.video is not None:
            fmt = None  # a video file is not audio
    else:  # video
        if facts.video is None:
            return [f"{role} has no video"]
        fmt = facts.container if facts.container in ("mp4", "mov") else None
    if fmt is None or fmt not in allowed:
        return [f"{role} format is {facts.container or 'unknown'}; accepted: {', '.join(allowed)}"]
    name = _SAME_NAME.get(facts.extension, facts.extension)
    if name not in allowed:
        shown = f".{facts.extension}" if facts.extension else "no extension"
        return [f"{role} name has {shown}; accepted: {', '.join('.' + f for f in allowed)}"]
    return []


def _image_problems(facts: MediaFacts, limits: Media) -> list[str]:
    if limits.kind != "image":
        return []
    image = facts.image
    width = image.width if image else facts.video.width if facts.video else None
    height = image.height if image else facts.video.height if facts.video else None
    if not width or not height:
        return [f"{limits.role} size cannot be read"]
    problems = []
    if limits.min_side_px is not None and min(width, height) < limits.min_side_px:
        problems.append(
            f"{limits.role} is {width}x{height}; each side must be at least {limits.min_side_px} px"
        )
    if limits.aspect is not None and not limits.aspect.holds(width / height):
        problems.append(
            f"{limits.role} aspect ratio {width / height:.2f} is outside 1:2.5 to 2.5:1"
        )
    return problems


def text_problems(fields: dict[str, Any], limits: Text) -> list[str]:
    """text / voice_id / voice_language / voice_speed against the endpoint's text limits."""
    problems = []
    text, voice = fields["text"], fields["voice_id"]
    language, speed = fields["voice_language"], fields["voice_speed"]
    if len(text) > limits.max_chars:
        problems.append(f"text is longer than {limits.max_chars} characters ({len(text)})")
    if language not in limits.languages:
        problems.append(f"voice_language must be one of {', '.join(limits.languages)}")
    if voice not in limits.voices and voice not in limits.language_voices.get(language, ()):
        problems.append(f"voice_id {voice!r} is not a voice of this endpoint for {language}")
    if not limits.speed.holds(speed):
        problems.append(f"voice_speed {speed:g} is outside {limits.speed.text()}")
    return problems


def parse_json(raw: bytes) -> Any:
    """The decoded body; anything undecodable, nested past the parser's depth included, is
    Invalid (a 400 in the provider's shape), never a 500."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Invalid("the request body is not valid JSON") from exc


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
