"""The values of a submit run: what was asked (`SubmitRequest`), what happened (`Event`), and how
it ended (`JobResult`). Rendering lives in the CLI."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit

from preflight.model.errors import ConfigError
from preflight.model.findings import Finding
from preflight.model.sources import is_url

__all__ = [
    "PROVIDERS",
    "Event",
    "JobResult",
    "Outcome",
    "SubmitRequest",
    "is_url",
]

PROVIDERS = ("kling", "wavespeed")
VOICE_LANGUAGES = ("zh", "en")
DEFAULT_VOICE_LANGUAGE = "en"
DEFAULT_VOICE_SPEED = 1.0
OUT_SUFFIX = ".lipsync.mp4"


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """One lip-sync job as the user asked for it.

    ``video``/``audio`` are local paths or ``http(s)`` URLs. Exactly one of ``text`` (with
    ``voice_id``) or ``audio``. ``profile`` defaults to the provider's profile for the mode;
    ``face=False`` skips the profile's face checks (``docs/vision.md``).
    ``out`` defaults to ``NAME.lipsync.mp4`` beside a local video (the current directory for a
    URL). ``timeout`` bounds the wait in seconds (None: wait as long as it takes).
    """

    video: str
    provider: str = "kling"
    audio: str | None = None
    text: str | None = None
    voice_id: str | None = None
    voice_language: str | None = None
    voice_speed: float | None = None
    profile: str | None = None
    fix: bool = True
    face: bool = True
    callback_url: str | None = None
    external_task_id: str | None = None
    upload_to: str | None = None
    out: str | None = None
    wait: bool = True
    timeout: float | None = None
    new: bool = False
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "video", os.fspath(self.video))
        if self.audio is not None:
            object.__setattr__(self, "audio", os.fspath(self.audio))
        if self.out is not None:
            object.__setattr__(self, "out", os.fspath(self.out))

    @property
    def mode(self) -> str:
        """``text`` (text2video) or ``audio`` (audio2video)."""
        return "audio" if self.audio is not None else "text"

    def validate(self) -> SubmitRequest:
        """This request with defaults filled in; raises ConfigError on a wrong combination."""
        if self.provider not in PROVIDERS:
            raise ConfigError(
                f"--provider must be one of {', '.join(PROVIDERS)}, not {self.provider!r}"
            )
        if not self.video:
            raise ConfigError("a video (path or URL) is required")
        if self.audio is not None and self.text is not None:
            raise ConfigError("give either --audio or --text (with --voice-id), not both")
        if self.audio is None and self.text is None:
            raise ConfigError("give either --audio AUDIO or --text TEXT --voice-id VOICE")
        if self.text is not None and not self.voice_id:
            raise ConfigError("--text needs --voice-id")
        if self.audio is not None and (self.voice_id or self.voice_language or self.voice_speed):
            raise ConfigError(
                "--voice-id/--voice-language/--voice-speed go with --text, not --audio"
            )
        language = self.voice_language
        speed = self.voice_speed
        if self.mode == "text":
            language = language or DEFAULT_VOICE_LANGUAGE
            speed = DEFAULT_VOICE_SPEED if speed is None else float(speed)
            if language not in VOICE_LANGUAGES:
                raise ConfigError(f"--voice-language must be zh or en, not {language!r}")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError("the wait timeout must be positive")
        return _replace(self, voice_language=language, voice_speed=speed)

    @property
    def profile_name(self) -> str:
        if self.profile:
            return self.profile
        if self.provider == "wavespeed":
            return (
                "wavespeed-kling-lipsync-t2v"
                if self.mode == "text"
                else "wavespeed-kling-lipsync-a2v"
            )
        return "kling-lipsync"

    def params(self) -> dict[str, Any]:
        """The request fields other than media: part of the job key."""
        data: dict[str, Any] = {"mode": self.mode}
        if self.mode == "text":
            data.update(
                text=self.text,
                voice_id=self.voice_id,
                voice_language=self.voice_language,
                voice_speed=self.voice_speed,
            )
        data.update(callback_url=self.callback_url, external_task_id=self.external_task_id)
        return {k: v for k, v in data.items() if v is not None}

    def options(self) -> dict[str, Any]:
        """How to run it (not part of the key): enough to resume the job from the ledger."""
        return {
            "video": _absolute(self.video),
            "audio": _absolute(self.audio),
            "profile": self.profile,
            "fix": self.fix,
            "face": self.face,
            "upload_to": self.upload_to,
            "name": self.name,
        }

    def default_out(self) -> Path:
        if self.out:
            return Path(self.out)
        if is_url(self.video):
            stem = unquote(Path(urlsplit(self.video).path).stem) or "result"
            return Path.cwd() / f"{stem}{OUT_SUFFIX}"
        video = Path(self.video)
        return video.with_name(f"{video.stem}{OUT_SUFFIX}")

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        return unquote(Path(urlsplit(self.video).path).name) if is_url(self.video) else self.video


def _absolute(source: str | None) -> str | None:
    """A local path made absolute (so `preflight resume` works from anywhere); URLs unchanged."""
    return source if source is None or is_url(source) else os.path.abspath(source)


def _replace(request: SubmitRequest, **changes: Any) -> SubmitRequest:
    from dataclasses import replace

    return replace(request, **changes)


class Outcome(enum.StrEnum):
    """How a submit run ended, and the CLI's exit code for it."""

    DONE = "done"  # the result is downloaded (exit 0)
    SUBMITTED = "submitted"  # created and left running (--no-wait) (exit 0)
    REJECTED = "rejected"  # the input fails the profile and was not fixed (exit 1)
    FAILED = "failed"  # the provider refused the create, or the task failed (exit 1)
    TIMED_OUT = "timed_out"  # gave up waiting; `preflight resume` picks it up (exit 3)

    @property
    def exit_code(self) -> int:
        return {"done": 0, "submitted": 0, "rejected": 1, "failed": 1, "timed_out": 3}[self.value]


@dataclass(frozen=True, slots=True)
class Event:
    """One step of a run: ``step`` is job/check/fix/host/create/wait/download/done; ``state`` is
    start/progress/done/skip/fail/info."""

    step: str
    state: str
    message: str
    job_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.step,
            "state": self.state,
            "job_id": self.job_id,
            "message": self.message,
            **dict(self.data),
        }


@dataclass(frozen=True, slots=True)
class JobResult:
    """How one job ended. ``output`` is the downloaded file (for ``done``); ``reason`` the
    provider's or the check's reason (for ``failed``/``rejected``)."""

    name: str
    outcome: Outcome
    job_id: str | None = None
    task_id: str | None = None
    output: Path | None = None
    result_url: str | None = None
    reason: str | None = None
    findings: tuple[Finding, ...] = ()
    resumed: bool = False
    provider: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome.exit_code == 0

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "outcome": self.outcome.value,
            "job_id": self.job_id,
            "task_id": self.task_id,
            "provider": self.provider,
            "output": str(self.output) if self.output else None,
            "reason": self.reason,
            "resumed": self.resumed,
            "findings": [f.to_dict() for f in self.findings],
        }
