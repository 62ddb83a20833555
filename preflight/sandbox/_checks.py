"""What the sandbox refuses, as the providers document it (provider-notes.md).

Body checks are the providers' parameter tables; media checks use the portable lip-sync envelope
(2-10 s, 720-1920 px, mp4/mov <= 100 MB; audio mp3/wav/m4a/aac <= 5 MB, 2-60 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from preflight.facts import MediaFacts

__all__ = [
    "VOICES",
    "Invalid",
    "MediaLimits",
    "check_media",
    "lip_sync_input",
    "number",
    "voice_speed",
]

VOICES = frozenset(
    [
        "genshin_vindi2",
        "zhinen_xuesheng",
        "AOT",
        "ai_shatang",
        "genshin_klee2",
        "genshin_kirara",
        "ai_kaiya",
        "oversea_male1",
        "ai_chenjiahao_712",
        "girlfriend_4_speech02",
        "chat1_female_new-3",
        "chat_0407_5-1",
        "cartoon-boy-07",
        "uk_boy1",
        "cartoon-girl-01",
        "PeppaPig_platform",
        "ai_huangzhong_712",
        "ai_huangyaoshi_712",
        "ai_laoguowang_712",
        "chengshu_jiejie",
        "you_pingjing",
        "calm_story1",
        "uk_man2",
        "laopopo_speech02",
        "heainainai_speech02",
        "reader_en_m-v1",
        "commercial_lady_en_f-v1",
        "tiyuxi_xuedi",
        "tiexin_nanyou",
        "girlfriend_1_speech02",
        "girlfriend_2_speech02",
        "zhuxi_speech02",
        "uk_oldman3",
        "dongbeilaotie_speech02",
        "chongqingxiaohuo_speech02",
        "chuanmeizi_speech02",
        "chaoshandashu_speech02",
        "ai_taiwan_man2_speech02",
        "xianzhanggui_speech02",
        "tianjinjiejie_speech02",
        "diyinnansang_DB_CN_M_04-v2",
        "yizhipiannan-v1",
        "tianmeixuemei-v1",
        "daopianyansang-v1",
        "mengwa-v1",
    ]
)
TEXT_MAX = 120
MB = 1024 * 1024


class Invalid(Exception):
    """A request the provider refuses. ``kind``: missing | invalid | unreachable."""

    def __init__(self, message: str, *, kind: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """The limits one input role is held to."""

    what: str
    containers: frozenset[str]
    max_bytes: int
    min_seconds: float | None = None
    max_seconds: float | None = None
    min_side: int | None = None
    max_side: int | None = None
    need_video: bool = False
    need_audio: bool = False
    min_aspect: float | None = None
    max_aspect: float | None = None


LIPSYNC_VIDEO = MediaLimits(
    "video", frozenset({"mp4", "mov"}), 100 * MB, 2, 10, 720, 1920, need_video=True
)
FACE_VIDEO = MediaLimits(
    "video", frozenset({"mp4", "mov"}), 100 * MB, 2, 60, 512, 2160, need_video=True
)
AUDIO = MediaLimits(
    "audio", frozenset({"mp3", "wav", "mp4", "mov", "adts"}), 5 * MB, 2, 60, need_audio=True
)
IMAGE = MediaLimits(
    "image", frozenset({"jpeg", "png"}), 10 * MB, min_side=300, min_aspect=1 / 2.5, max_aspect=2.5
)


def check_media(facts: MediaFacts, limits: MediaLimits) -> None:
    """Raise Invalid naming the first limit ``facts`` breaks."""
    what = limits.what
    if facts.container not in limits.containers:
        raise Invalid(f"{what} format {facts.container or 'unknown'} is not supported")
    if facts.size_bytes > limits.max_bytes:
        raise Invalid(f"{what} is larger than {limits.max_bytes} bytes")
    if limits.need_video and facts.video is None:
        raise Invalid(f"{what} has no video stream")
    if limits.need_audio and facts.audio is None:
        raise Invalid(f"{what} has no audio stream")
    seconds = facts.effective_duration
    if limits.min_seconds is not None and limits.max_seconds is not None:
        if seconds is None:
            raise Invalid(f"{what} duration could not be read")
        if not limits.min_seconds <= seconds <= limits.max_seconds:
            raise Invalid(
                f"{what} duration {seconds:.2f}s is outside "
                f"{limits.min_seconds:g}-{limits.max_seconds:g}s"
            )
    dims = facts.video or facts.image
    if (limits.min_side or limits.max_side) and dims is not None:
        width, height = dims.width or 0, dims.height or 0
        low, high = limits.min_side or 0, limits.max_side or math.inf
        if not (low <= width <= high and low <= height <= high):
            span = f"{low}-{high}" if limits.max_side else f"at least {low}"
            raise Invalid(f"{what} size {width}x{height} is outside {span} px per side")
        if limits.min_aspect and limits.max_aspect and height:
            ratio = width / height
            if not limits.min_aspect <= ratio <= limits.max_aspect:
                raise Invalid(f"{what} aspect ratio {ratio:.2f} is outside 1:2.5 to 2.5:1")


def number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"{name} must be a number")
    if not low <= value <= high:
        raise Invalid(f"{name} must be between {low:g} and {high:g}")
    return float(value)


def voice_speed(value: Any, name: str = "voice_speed") -> float:
    return round(number(1.0 if value is None else value, name, 0.8, 2.0), 1)


def text_fields(
    src: dict[str, Any], prefix: str, *, default_voice: str | None, default_language: str
) -> dict[str, Any]:
    text = src.get("text")
    if not isinstance(text, str) or not text.strip():
        raise Invalid(f"{prefix}text is required for text2video", kind="missing")
    if len(text) > TEXT_MAX:
        raise Invalid(f"{prefix}text is {len(text)} characters; at most {TEXT_MAX} are allowed")
    voice = src.get("voice_id") or default_voice
    if not voice:
        raise Invalid(f"{prefix}voice_id is required with text", kind="missing")
    if voice not in VOICES:
        raise Invalid(f"{prefix}voice_id {voice!r} is not a known voice")
    language = src.get("voice_language") or default_language
    if language not in ("zh", "en"):
        raise Invalid(f"{prefix}voice_language must be zh or en")
    return {
        "text": text,
        "voice_id": voice,
        "voice_language": language,
        "voice_speed": voice_speed(src.get("voice_speed"), f"{prefix}voice_speed"),
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
