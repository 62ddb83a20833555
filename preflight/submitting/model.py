"""The values of a submit run: what was asked (`SubmitRequest`), what happened (`Event`), and how
it ended (`JobResult`). Rendering lives in the CLI."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from preflight.model.errors import ConfigError, UsageError
from preflight.model.findings import Finding
from preflight.model.sources import is_url
from preflight.model.speech import Speech
from preflight.submitting.registry import PROVIDERS, entry

if TYPE_CHECKING:
    from preflight.submitting.faces import AdvancedLipSync

__all__ = [
    "PROVIDERS",
    "Event",
    "JobResult",
    "Outcome",
    "SubmitRequest",
    "is_url",
]

OUT_SUFFIX = ".lipsync.mp4"


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """One lip-sync job as the user asked for it.

    ``video``/``audio`` are local paths or ``http(s)`` URLs. Exactly one of ``text`` (with
    ``voice_id``) or ``audio``. ``profile`` defaults to the provider's profile for the mode;
    ``face=False`` skips the profile's face checks (``docs/vision.md``).
    ``out`` defaults to ``NAME.lipsync.mp4`` beside a local video (the current directory for a
    URL). ``timeout`` bounds the wait in seconds (None: wait as long as it takes). ``strict``
    makes warnings block as they fail ``check --strict``; ``config`` is a config file (None:
    the ``preflight.toml`` / ``pyproject.toml`` that ``check`` would find). ``advanced``
    makes it Kling's advanced lip-sync (identify-face, then one face; see
    `preflight.submitting.faces`), checked against the provider's ``advanced`` profile.
    ``max_cost`` (USD) refuses the job before anything is recorded or sent when its estimate is
    above it or the host publishes no price (`preflight.submitting.cost`).
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
    strict: bool = False
    config: str | None = None
    callback_url: str | None = None
    external_task_id: str | None = None
    upload_to: str | None = None
    out: str | None = None
    wait: bool = True
    timeout: float | None = None
    new: bool = False
    name: str | None = None
    advanced: AdvancedLipSync | None = None
    max_cost: Decimal | None = None

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
        entry(self.provider)  # ConfigError naming the known providers
        if not self.video:
            raise UsageError("a video (path or URL) is required")
        _check_sound(self)
        _check_advanced(self)
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError("the wait timeout must be positive")
        speech = self.speech
        if speech is None:
            return self
        return _replace(self, voice_language=speech.voice_language, voice_speed=speech.voice_speed)

    @property
    def speech(self) -> Speech | None:
        """What the voice says (text2video, defaults applied), or None for audio2video."""
        return Speech.maybe(self)

    @property
    def profile_name(self) -> str:
        return self.profile or entry(self.provider).profile(
            "advanced" if self.advanced is not None else self.mode
        )

    def params(self) -> dict[str, Any]:
        """The request fields other than media: part of the job key."""
        data: dict[str, Any] = {"mode": self.mode}
        speech = self.speech
        if speech is not None:
            data.update(speech.fields())
        data.update(callback_url=self.callback_url, external_task_id=self.external_task_id)
        if self.advanced is not None:
            data.update(self.advanced.params())
        return {k: v for k, v in data.items() if v is not None}

    def options(self) -> dict[str, Any]:
        """How to run it (not part of the key): enough to resume the job from the ledger."""
        return {
            "video": _absolute(self.video),
            "audio": _absolute(self.audio),
            "profile": self.profile,
            "fix": self.fix,
            "face": self.face,
            "strict": self.strict,
            "config": _absolute(self.config),
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


def _check_sound(request: SubmitRequest) -> None:
    """Exactly one of audio or text (with its voice), and voice options only with text."""
    if request.audio is not None and request.text is not None:
        raise UsageError("give either --audio or --text (with --voice-id), not both")
    if request.audio is None and request.text is None:
        raise UsageError("give either --audio AUDIO or --text TEXT --voice-id VOICE")
    if request.audio is not None and (
        request.voice_id or request.voice_language or request.voice_speed
    ):
        raise UsageError("--voice-id/--voice-language/--voice-speed go with --text, not --audio")


def _check_advanced(request: SubmitRequest) -> None:
    """Advanced lip-sync takes an audio file, on a provider that offers it (Kling)."""
    if request.advanced is None:
        return
    if "advanced" not in entry(request.provider).profiles:
        offered = [name for name in PROVIDERS if "advanced" in entry(name).profiles]
        raise UsageError(
            f"--advanced is Kling's advanced lip-sync (identify-face, then one face); "
            f"{request.provider} does not offer it: use --provider {' or '.join(offered)}"
        )
    if request.text is not None or request.audio is None:
        raise UsageError(
            "--advanced lip-syncs an audio file (the endpoint has no text-to-speech): give "
            "--audio AUDIO, not --text"
        )
    request.advanced.validate()


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
    BLOCKED = "blocked"  # stopped by configuration before anything was spent; an action (exit 1)
    FAILED = "failed"  # the provider refused the create, or the task failed (exit 1)
    CANCELLED = "cancelled"  # `preflight jobs cancel` stopped it earlier (exit 1)
    TIMED_OUT = "timed_out"  # gave up waiting; `preflight resume` picks it up (exit 3)
    REFUSED = "refused"  # --max-cost: over the limit or no published price; nothing sent (exit 1)

    @property
    def exit_code(self) -> int:
        return {
            "done": 0,
            "submitted": 0,
            "rejected": 1,
            "blocked": 1,
            "failed": 1,
            "cancelled": 1,
            "timed_out": 3,
            "refused": 1,
        }[self.value]


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
    action: str | None = None  # for ``blocked``: what the user has to do before `resume`

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
            "action": self.action,
            "resumed": self.resumed,
            "findings": [f.to_dict() for f in self.findings],
        }
