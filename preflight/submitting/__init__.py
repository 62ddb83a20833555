"""`preflight.submit(...)`: check -> fix -> host -> create -> wait -> download, resumable.

The library API behind `preflight submit`. Every run is recorded in the job ledger
(`preflight.submitting.ledger`); running the same job again resumes it instead of paying twice.

Importing this package stays light (no SQLite, no httpx): the pipeline modules load on first use.
The runner and its parts live in `preflight.submitting.pipeline` (`Submitter`, driving the steps in
`preflight.submitting.steps` along the state table of `preflight.submitting.states`),
`preflight.submitting.batch` (`run_batch`, `read_job_lines`), `preflight.submitting.registry` (one
entry per provider: `REGISTRY`, `make_provider`), `preflight.submitting.providers`
(`KlingProvider`, `WaveSpeedProvider`), `preflight.submitting.gate` (`SlotGate`); they are also
reachable from here by name.
"""

from __future__ import annotations

import importlib
import os
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from preflight.submitting.model import Event, JobResult, Outcome, SubmitRequest

if TYPE_CHECKING:
    from preflight.submitting.faces import AdvancedLipSync
    from preflight.submitting.ledger import Ledger
    from preflight.submitting.pipeline import EventSink

__all__ = [
    "REGISTRY",
    "BatchLine",
    "Event",
    "FalProvider",
    "JobResult",
    "KlingProvider",
    "Outcome",
    "Provider",
    "SlotGate",
    "SubmitRequest",
    "Submitter",
    "WaveSpeedProvider",
    "estimate_request",
    "make_provider",
    "plan_job",
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
    "FalProvider": "preflight.submitting.providers",
    "KlingProvider": "preflight.submitting.providers",
    "Provider": "preflight.submitting.providers",
    "WaveSpeedProvider": "preflight.submitting.providers",
    "make_provider": "preflight.submitting.registry",
    "estimate_request": "preflight.submitting.cost",
    "plan_job": "preflight.submitting.dryrun",
    "REGISTRY": "preflight.submitting.registry",
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
    provider: str | None = None,
    profile: str | None = None,
    fix: bool = True,
    face: bool = True,
    strict: bool = False,
    config: str | os.PathLike[str] | None = None,
    callback_url: str | None = None,
    external_task_id: str | None = None,
    upload_to: str | None = None,
    out: str | os.PathLike[str] | None = None,
    wait: bool = True,
    timeout: float | None = None,
    new: bool = False,
    max_cost: Decimal | float | str | None = None,
    ledger: Ledger | str | os.PathLike[str] | None = None,
    client: Any = None,
    on_event: EventSink | None = None,
    advanced: AdvancedLipSync | None = None,
) -> JobResult:
    """Run one lip-sync job to its end and return how it ended (see `JobResult`).

    ``client`` is a `KlingClient` or `WaveSpeedClient` (default: one configured from the
    environment); the provider is the client's unless ``provider`` names it (default ``kling``
    without a client). ``ledger`` is a `Ledger` or a path (default: ``$PREFLIGHT_LEDGER``, else the
    user's data directory). The input is judged by the same verdict as `preflight.check`:
    ``config`` is a config file (None: the ``preflight.toml`` / ``pyproject.toml`` found upward
    from the working directory), and warnings block only with ``strict``. Raises `ConfigError`
    for a wrong combination of arguments (`ProviderMismatchError` for a client that does not
    fit) before any ledger row is written, and `InputError` for a missing input; a rejected
    input, a blocked job or a failed task is an outcome, not an exception. ``advanced`` (an
    `preflight.submitting.faces.AdvancedLipSync`) makes it Kling's advanced lip-sync of one face.
    ``max_cost`` (USD) refuses the job (`Outcome.REFUSED`, nothing recorded or sent) when its
    estimate is above it or its host publishes no price (`preflight.submitting.cost`).
    """
    from preflight.submitting.ledger import Ledger
    from preflight.submitting.pipeline import Submitter
    from preflight.submitting.registry import entry_for_client, make_provider

    found = entry_for_client(client, provider) if client is not None else None
    name = found.name if found is not None else provider or "kling"
    request = SubmitRequest(
        video=os.fspath(video),
        provider=name,
        audio=os.fspath(audio) if audio is not None else None,
        text=text,
        voice_id=voice_id,
        voice_language=voice_language,
        voice_speed=voice_speed,
        profile=profile,
        fix=fix,
        face=face,
        strict=strict,
        config=os.fspath(config) if config is not None else None,
        callback_url=callback_url,
        external_task_id=external_task_id,
        upload_to=upload_to,
        out=os.fspath(out) if out is not None else None,
        wait=wait,
        timeout=timeout,
        new=new,
        advanced=advanced,
        max_cost=None if max_cost is None else Decimal(str(max_cost)),
    )
    request.validate()  # usage errors before the ledger is even opened
    book = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
    if found is not None:
        return Submitter(book, {name: found.adapt(client)}, on_event=on_event).run(request)
    with Submitter(book, make_provider, on_event=on_event) as owned:
        return owned.run(request)
