"""A lip-sync (or image2video) job as the rules see it: probed media plus request fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from preflight.model.facts import MediaFacts

__all__ = ["Job"]


@dataclass(frozen=True, slots=True)
class Job:
    """Everything one request would send, after probing. Rules read this and nothing else.

    ``name`` is what reports call the job (the video path, or ``jobs.jsonl:3``). Media fields hold
    the probe's record; ``*_error`` holds the reason an input could not be probed, so the engine
    can report `input.readable` and still check the rest. ``analysis`` carries optional derived
    measurements keyed by family (e.g. ``"face"``), added by analysers that run after probing.
    """

    name: str
    video: MediaFacts | None = None
    audio: MediaFacts | None = None
    image: MediaFacts | None = None
    text: str | None = None
    voice_id: str | None = None
    voice_language: str | None = None
    voice_speed: float | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    input_errors: tuple[tuple[str, str], ...] = ()  # (role, message): role is video/audio/image
    analysis: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
