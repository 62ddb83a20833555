"""Keeping the ledger tidy: `preflight jobs rm` and `preflight jobs cancel`.

Removing forgets a row. Cancelling keeps it, marked ``cancelled`` so no `resume` or re-run picks it
up again, and asks the provider to stop the task where its API can (fal's queue: given a
``cancel`` function). Neither Kling nor WaveSpeed documents a cancel endpoint, so for them a task
already created keeps running and is billed: `cancel_job` says so instead of pretending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from preflight.model.errors import APIError, ConfigError, LedgerError
from preflight.submitting.ledger import JobRecord, Ledger
from preflight.submitting.registry import REGISTRY
from preflight.submitting.states import JobStatus

__all__ = ["Cancelled", "cancel_job"]

# a task may exist at the provider once the create was sent
_MAY_HAVE_TASK = frozenset(
    {JobStatus.CREATING, JobStatus.SUBMITTED, JobStatus.PROCESSING, JobStatus.SUCCEEDED}
)


@dataclass(frozen=True, slots=True)
class Cancelled:
    """A cancelled job, and what became of its task at the provider (``note``; None: no task)."""

    record: JobRecord
    note: str | None = None


def cancel_job(
    ledger: Ledger, job_id: str, *, cancel: Callable[[str, str], str] | None = None
) -> Cancelled:
    """Mark the job ``cancelled``; raises LedgerError when it is done, already cancelled, or run
    by another live process right now. ``cancel(provider, task_id)`` asks a provider that can
    (``can_cancel`` in the registry) to stop the task; its answer goes in the note."""
    record = ledger.get(job_id)
    if record.status in (JobStatus.DONE, JobStatus.CANCELLED):
        raise LedgerError(f"job {record.job_id} is already {record.status.value}")
    record, lease = ledger.claim(record.job_id)
    if lease is None:
        raise LedgerError(
            f"job {record.job_id} is being run by process {record.lease_pid} on "
            f"{record.lease_host}; stop that process first"
        )
    try:
        note = _provider_note(record, cancel)
        updated = ledger.update(lease, status=JobStatus.CANCELLED, error="cancelled by the user")
    finally:
        lease.release()
    return Cancelled(updated, note)


def _provider_note(
    record: JobRecord, cancel: Callable[[str, str], str] | None = None
) -> str | None:
    """What cancelling means at the provider for this row (None when no task can exist)."""
    if record.status not in _MAY_HAVE_TASK:
        return None
    found = REGISTRY.get(record.provider)
    title = found.title if found is not None else record.provider
    task = f"task {record.task_id}" if record.task_id else "a task the create may have started"
    if record.status is JobStatus.SUCCEEDED:
        return f"{task} already succeeded; its result is no longer downloaded"
    if found is not None and found.can_cancel and record.task_id and cancel is not None:
        try:
            answer = cancel(record.provider, record.task_id)
        except (APIError, ConfigError) as exc:  # the row is cancelled all the same
            return (
                f"asking {title} to cancel {task} failed ({exc}): it may keep running and be billed"
            )
        return f"asked {title} to cancel {task}: {answer}"
    return (
        f"{title} offers no way to cancel a task: {task} keeps running and is billed; "
        "the ledger stops following it"
    )
