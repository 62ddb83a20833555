"""What every step of a submit run shares: the ledger, the events, the result of a job.

`StepBase` declares the state the step mixins read (`Submitter` sets it up); the steps themselves
live beside this module, one per stretch of the job's state table (`preflight.submitting.states`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflight.submitting.gate import SlotGate
from preflight.submitting.ledger import JobRecord, Ledger
from preflight.submitting.model import Event, JobResult, Outcome, SubmitRequest

if TYPE_CHECKING:
    from preflight.engines import Session
    from preflight.fixing import FixOptions
    from preflight.submitting.hosting import Host
    from preflight.submitting.hosting.s3 import S3Host
    from preflight.submitting.listen import Listener

__all__ = ["StepBase"]


class StepBase:
    """The state of a `Submitter` that its steps use, and the two things they all do."""

    ledger: Ledger
    on_event: Callable[[Event], None]
    gate: SlotGate
    fallback_host: Host | None
    work_dir: Path
    fix_options: FixOptions | None
    show_progress: bool
    listener: Listener | None  # `submit --listen`: callbacks wake the wait (`.listen`)
    engine: Session | None  # check and fix items go here (`docs/scale.md`); None: this process
    fix_dir: str | None  # where fixes on the engine write (shared folder, s3://); None: work_dir
    _lock: threading.Lock
    _hosts: dict[str, S3Host]

    def emit(self, step: str, state: str, message: str, job: str | None, **data: Any) -> None:
        """Report one step to ``on_event``."""
        self.on_event(Event(step, state, message, job, data))

    def _result(
        self, request: SubmitRequest, record: JobRecord, outcome: Outcome, **kw: Any
    ) -> JobResult:
        return JobResult(
            name=request.display_name,
            outcome=outcome,
            job_id=record.job_id,
            task_id=kw.pop("task_id", record.task_id),
            provider=record.provider,
            result_url=kw.pop("result_url", record.result_url),
            **kw,
        )
