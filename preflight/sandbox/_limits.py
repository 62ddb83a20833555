"""What the providers publish, as the sandbox reads it: one table of limits, each with its source.

The sandbox judges requests by this table and by nothing of preflight's: not the rule engine,
not the profiles in ``rules/``. That is the point of it. While the sandbox borrowed the engine, a
wrong limit in a profile was also the sandbox's limit, and every test against the sandbox passed
with it; now a profile that drifts from the providers' documents is caught by the tests that
submit what preflight passed. The table is written from the provider notes (``docs/sandbox.md``
shows it), with their source keys:

- **KL-CN** Kling's official API document (Chinese edition, lip-sync section)
- **KL-EN** Kling's current English API reference
- **KL-OLD** the older English specification (section "Lip-Sync")
- **SEED-K**, **SEED-W** the project's seed documents (a Kling summary; WaveSpeed's page)
- **WS** WaveSpeedAI's docs and official Python SDK
- **FAL** fal's model pages for ``fal-ai/kling-video/lipsync/audio-to-video`` and
  ``.../text-to-video``, and its queue and storage docs

Where sources disagree the sandbox plays the stricter provider that every host documents (a
lip-sync video of 2-10 s, 720-1920 px), so a clip it accepts is one every host accepts. "MB" is
read as 10^6 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "ADVANCED_AUDIO",
    "ADVANCED_VIDEO",
    "ENDPOINTS",
    "FAL_AUDIO",
    "FAL_TEXT",
    "FAL_UPLOAD",
    "FAL_VIDEO",
    "IMAGE",
    "KLING_TEXT",
    "LIPSYNC_AUDIO",
    "LIPSYNC_VIDEO",
    "PROMPT",
    "UPLOAD",
    "WAVESPEED_TEXT",
    "Endpoint",
    "Media",
    "Span",
    "Text",
]

MB = 1_000_000


@dataclass(frozen=True, slots=True)
class Span:
    """An inclusive range with the source that states it."""

    low: float
    high: float
    source: str

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high

    def text(self, unit: str = "") -> str:
        return f"{self.low:g}-{self.high:g}{unit}"


@dataclass(frozen=True, slots=True)
class Media:
    """One media input: accepted formats (by content and by name), bytes, and its ranges."""

    kind: str  # video | audio | image | file
    role: str  # what the provider calls it in messages: "video", "sound_file", ...
    formats: tuple[str, ...]  # the provider's names: file extensions
    max_bytes: int
    source: str
    seconds: Span | None = None
    side_px: Span | None = None  # each side of a video, as displayed
    min_side_px: int | None = None  # each side of an image
    aspect: Span | None = None  # an image's width / height


@dataclass(frozen=True, slots=True)
class Text:
    """The text2video fields: text length, voices, languages, speed."""

    max_chars: int
    languages: tuple[str, ...]
    speed: Span
    voices: frozenset[str]
    language_voices: MappingProxyType[str, frozenset[str]]
    source: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What one create endpoint takes (``None``: the endpoint takes no such input)."""

    path: str
    video: Media | None = None
    audio: Media | None = None
    image: Media | None = None
    text: Text | None = None
    prompt_max_chars: int | None = None


# SEED-W's 25 voices, valid in either language; KL-CN's voice table adds ids per language.
SEED_W_VOICES = frozenset(
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
    ]
)
KL_CN_VOICES = MappingProxyType(
    {
        "en": frozenset({"reader_en_m-v1", "commercial_lady_en_f-v1"}),
        "zh": frozenset(
            [
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
        ),
    }
)

LIPSYNC_VIDEO = Media(
    kind="video",
    role="video",
    formats=("mp4", "mov"),
    max_bytes=100 * MB,
    source="KL-OLD, SEED-W: .mp4/.mov, at most 100 MB, 2-10 s, each side 720-1920 px",
    seconds=Span(2, 10, "KL-OLD, SEED-W (KL-CN's newer edition: 2-60 s)"),
    side_px=Span(720, 1920, "KL-OLD, SEED-W (KL-CN's newer edition: 512-2160 px)"),
)
LIPSYNC_AUDIO = Media(
    kind="audio",
    role="audio",
    formats=("mp3", "wav", "m4a", "aac"),
    max_bytes=5 * MB,
    source="KL-CN, KL-OLD: .mp3/.wav/.m4a/.aac, at most 5 MB; hosts: 2-60 s",
    seconds=Span(2, 60, "hosts that resell the endpoint; KL-EN for sound_file"),
)
KLING_TEXT = Text(
    max_chars=120,
    languages=("zh", "en"),
    speed=Span(0.8, 2.0, "KL-CN, KL-OLD, SEED-W"),
    voices=SEED_W_VOICES,
    language_voices=KL_CN_VOICES,
    source="KL-CN, KL-OLD: text at most 120 characters; voice ids of SEED-W and KL-CN",
)
WAVESPEED_TEXT = Text(
    max_chars=120,
    languages=("zh", "en"),
    speed=Span(0.8, 2.0, "SEED-W"),
    voices=SEED_W_VOICES,
    language_voices=MappingProxyType({}),
    source="SEED-W: text at most 120 characters, its 25 voice ids",
)
ADVANCED_VIDEO = Media(
    kind="video",
    role="video",
    formats=("mp4", "mov"),
    max_bytes=100 * MB,
    source="KL-EN identify-face: mp4/mov, at most 100 MB, 2-60 s, sides 512-2160 px",
    seconds=Span(2, 60, "KL-EN"),
    side_px=Span(512, 2160, "KL-EN"),
)
ADVANCED_AUDIO = Media(
    kind="audio",
    role="sound_file",
    formats=("mp3", "wav", "m4a", "aac"),
    max_bytes=5 * MB,
    source="KL-EN advanced-lip-sync: sound_file mp3/wav/m4a/aac, at most 5 MB, 2-60 s",
    seconds=Span(2, 60, "KL-EN"),
)
IMAGE = Media(
    kind="image",
    role="image",
    formats=("jpg", "jpeg", "png"),
    max_bytes=10 * MB,
    source="KL-EN image2video: jpg/jpeg/png, at most 10 MB, sides >= 300 px, 1:2.5 to 2.5:1",
    min_side_px=300,
    aspect=Span(1 / 2.5, 2.5, "KL-EN"),
)
PROMPT = 2500  # KL-EN: prompt and negative_prompt at most 2500 characters
UPLOAD = Media(
    kind="file",
    role="file",
    formats=(),
    max_bytes=200 * MB,
    source="WS: the official SDK caps an upload at 200 MB",
)

FAL_VIDEO = Media(
    kind="video",
    role="video_url",
    formats=("mp4", "mov"),
    max_bytes=100 * MB,
    source="FAL: video_url .mp4/.mov, at most 100 MB, 2-10 s, each side 720-1920 px",
    seconds=Span(2, 10, "FAL"),
    side_px=Span(720, 1920, "FAL"),
)
FAL_AUDIO = Media(
    kind="audio",
    role="audio_url",
    formats=("mp3", "wav", "m4a", "aac"),
    max_bytes=5 * MB,
    source="FAL: audio_url 2-60 s, at most 5 MB; formats: KL-CN's for the same Kling model",
    seconds=Span(2, 60, "FAL"),
)
FAL_TEXT = Text(
    max_chars=120,
    languages=("zh", "en"),
    speed=Span(0.8, 2.0, "KL-CN (the same Kling model)"),
    voices=SEED_W_VOICES,
    language_voices=KL_CN_VOICES,
    source="FAL: text at most 120 characters; voice ids: KL-CN and SEED-W (the same Kling model)",
)
FAL_UPLOAD = Media(
    kind="file",
    role="file",
    formats=(),
    max_bytes=100 * 1024 * 1024,
    source="FAL: fal-client sends files above 100 MiB in parts (not imitated here)",
)

ENDPOINTS: MappingProxyType[str, Endpoint] = MappingProxyType(
    {
        "kling lip-sync text2video": Endpoint(
            "POST /v1/videos/lip-sync", video=LIPSYNC_VIDEO, text=KLING_TEXT
        ),
        "kling lip-sync audio2video": Endpoint(
            "POST /v1/videos/lip-sync", video=LIPSYNC_VIDEO, audio=LIPSYNC_AUDIO
        ),
        "kling identify-face": Endpoint("POST /v1/videos/identify-face", video=ADVANCED_VIDEO),
        "kling advanced-lip-sync": Endpoint(
            "POST /v1/videos/advanced-lip-sync", audio=ADVANCED_AUDIO
        ),
        "kling image2video": Endpoint(
            "POST /v1/videos/image2video", image=IMAGE, prompt_max_chars=PROMPT
        ),
        "wavespeed text-to-video": Endpoint(
            "POST /api/v3/kwaivgi/kling-lipsync/text-to-video",
            video=LIPSYNC_VIDEO,
            text=WAVESPEED_TEXT,
        ),
        "wavespeed audio-to-video": Endpoint(
            "POST /api/v3/kwaivgi/kling-lipsync/audio-to-video",
            video=LIPSYNC_VIDEO,
            audio=LIPSYNC_AUDIO,
        ),
        "fal audio-to-video": Endpoint(
            "POST /fal-ai/kling-video/lipsync/audio-to-video", video=FAL_VIDEO, audio=FAL_AUDIO
        ),
        "fal text-to-video": Endpoint(
            "POST /fal-ai/kling-video/lipsync/text-to-video", video=FAL_VIDEO, text=FAL_TEXT
        ),
    }
)
