"""What a provider voice is asked to say (text2video): one value instead of four loose fields.

`Speech.resolve` applies the defaults preflight always sends (``voice_language`` ``en``,
``voice_speed`` 1.0: Kling's documents disagree on the default language, so it is never left
out), and `Speech.fields` gives the four request fields by their wire names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from preflight.model.errors import ConfigError, UsageError

__all__ = [
    "DEFAULT_VOICE_LANGUAGE",
    "DEFAULT_VOICE_SPEED",
    "SPEECH_FIELDS",
    "VOICE_LANGUAGES",
    "Speech",
]

# the four request fields, by their wire names (what `Speech.fields` returns)
SPEECH_FIELDS = ("text", "voice_id", "voice_language", "voice_speed")

VOICE_LANGUAGES = ("zh", "en")
DEFAULT_VOICE_LANGUAGE = "en"
DEFAULT_VOICE_SPEED = 1.0


@dataclass(frozen=True, slots=True)
class Speech:
    """``text`` spoken by ``voice_id`` in ``voice_language`` at ``voice_speed``."""

    text: str
    voice_id: str
    voice_language: str = DEFAULT_VOICE_LANGUAGE
    voice_speed: float = DEFAULT_VOICE_SPEED

    @classmethod
    def resolve(
        cls,
        text: str,
        voice_id: str | None,
        voice_language: str | None = None,
        voice_speed: float | None = None,
    ) -> Speech:
        """The speech as it would be sent, defaults applied; ConfigError on a missing voice or an
        unknown language."""
        if not voice_id:
            raise UsageError("--text needs --voice-id")
        language = voice_language or DEFAULT_VOICE_LANGUAGE
        if language not in VOICE_LANGUAGES:
            raise ConfigError(
                f"--voice-language must be {' or '.join(VOICE_LANGUAGES)}, not {language!r}"
            )
        speed = DEFAULT_VOICE_SPEED if voice_speed is None else float(voice_speed)
        return cls(text, voice_id, language, speed)

    @classmethod
    def maybe(cls, fields: Any) -> Speech | None:
        """The speech in an object with the four attributes (a request), or None without text."""
        text = getattr(fields, "text", None)
        if text is None:
            return None
        return cls.resolve(
            text,
            getattr(fields, "voice_id", None),
            getattr(fields, "voice_language", None),
            getattr(fields, "voice_speed", None),
        )

    def fields(self) -> dict[str, Any]:
        """``text``, ``voice_id``, ``voice_language``, ``voice_speed``: the request's fields."""
        return {
            "text": self.text,
            "voice_id": self.voice_id,
            "voice_language": self.voice_language,
            "voice_speed": self.voice_speed,
        }
