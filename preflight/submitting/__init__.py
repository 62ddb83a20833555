"""`preflight.submit(...)`: check -> fix -> host -> create -> wait -> download, resumable.

The library API behind `preflight submit`. Every run is recorded in the job ledger
(`preflight.submitting.ledger`); running the same job again resumes it instead of paying twice.

Importing this package stays light (no SQLite, no httpx): the pipeline modules load on first use.
The runner and its parts live in `preflight.submitting.pipeline` (`Submitter`),
`preflight.submitting.batch` (`run_batch`, `read_job_lines`), `preflight.submitting.providers`
(`KlingProvider`, `WaveSpeedProvider`), `preflight.submitting.gate` (`SlotGate`); they are also
reachable from here by name.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from preflight.submitting.model import Event, JobResult, Outcome, SubmitRequest

if TYPE_CHECKING:
    from preflight.submitting.ledger import Ledger
    from preflight.submitting.pipeline import EventSink

__all__ = [
    "BatchLine",
    "Event",
    "JobResult",
    "KlingProvider",
    "Outcome",
    "Provider",
    "SlotGate",
    "SubmitRequest",
    "Submitter",
    "WaveSpeedProvider",
    "make_provider",
    "read_job_lines",
    "run_batch",
    "submit",
    "summary",
]

_LAZY = {
    "BatchLine": "preflight.submitting.batch",
    "read_job_lines": "preflight.submitting.batch",
    "run_batch": "preflight.submitting.batch",
    "summary": "preflight.submitting.batch",
    "SlotGate": "preflight.submitting.gate",
    "Submitter": "preflight.submitting.pipeline",
    "KlingProvider": "preflight.submitting.providers",
    "Provider": "preflight.submitting.providers",
    "WaveSpeedProvider": "preflight.submitting.providers",
    "make_provider": "preflight.submitting.providers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'preflight.submitting' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def submit(
    video: str | os.PathLike[str],
    *,
    audio: str | os.PathLike[str] | None = None,
    text: str | None = None,
    voice_id: str | None = None,
    voice_language: str | None = None,
    voice_speed: float | None = None,
    provider: str = "kling",
    profile: str | None = None,
    fix: bool = True,
    face: bool = True,
    callback_url: str | None = None,
    external_task_id: str | None = None,
    upload_to: str | None = None,
    out: str | os.PathLike[str] | None = None,
    wait: bool = True,
    timeout: float | None = None,
    new: bool = False,
    ledger: Ledger | str | os.PathLike[str] | None = None,
    client: Any = None,
    on_event: EventSink | None = None,
) -> JobResult:
    """Run one lip-sync job to its end and return how it ended (see `JobResult`).

    ``client`` is a `KlingClient` or `WaveSpeedClient` (default: one configured from the
    environment). ``ledger`` is a `Ledger` or a path (default: ``$PREFLIGHT_LEDGER``, else the
    user's data directory). Raises `ConfigError` for a wrong combination of arguments; a rejected
    input or a failed task is an outcome, not an exception.
    """
    from preflight.submitting.ledger import Ledger
    from preflight.submitting.pipeline import Submitter
    from preflight.submitting.providers import (
        KlingProvider,
        Provider,
        WaveSpeedProvider,
        make_provider,
    )

    request = SubmitRequest(
        video=os.fspath(video),
        provider=provider,
        audio=os.fspath(audio) if audio is not None else None,
        text=text,
        voice_id=voice_id,
        voice_language=voice_language,
        voice_speed=voice_speed,
        profile=profile,
        fix=fix,
        face=face,
        callback_url=callback_url,
        external_task_id=external_task_id,
        upload_to=upload_to,
        out=os.fspath(out) if out is not None else None,
        wait=wait,
        timeout=timeout,
        new=new,
    )
    book = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
    if client is not None:
        adapter: Provider = (
            KlingProvider(client) if provider == "kling" else WaveSpeedProvider(client)
        )
        return Submitter(book, {provider: adapter}, on_event=on_event).run(request)
    with Submitter(book, make_provider, on_event=on_event) as owned:
        return owned.run(request)
