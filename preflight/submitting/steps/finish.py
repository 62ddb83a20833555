"""The wait and download steps (``submitted`` → ``processing`` → ``succeeded`` → ``done``)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflight.model.atomic import atomic_open
from preflight.model.errors import (
    APIConnectionError,
    RateLimitError,
    ServerError,
    TaskFailedError,
)
from preflight.submitting.download import download
from preflight.submitting.ledger import JobRecord, JobStatus, Lease
from preflight.submitting.model import JobResult, Outcome, SubmitRequest
from preflight.submitting.providers import Provider
from preflight.submitting.steps.base import StepBase

if TYPE_CHECKING:
    from preflight.client.models import Task

__all__ = ["Finishing", "deliver"]


class Finishing(StepBase):
    """Wait for the task, download its result, or report how another process finished it."""

    def _wait(
        self,
        request: SubmitRequest,
        provider: Provider,
        record: JobRecord,
        lease: Lease,
        task_id: str,
    ) -> JobRecord | JobResult:
        job = record.job_id
        started = time.monotonic()
        self.emit("wait", "start", f"waiting for task {task_id}", job, task_id=task_id)
        last = [record.status]

        def on_update(task: Task) -> None:
            status = task.status.value
            mapped = {
                "submitted": JobStatus.SUBMITTED,
                "processing": JobStatus.PROCESSING,
            }.get(status)
            if mapped is not None and mapped is not last[0]:
                self.ledger.update(lease, status=mapped)
                last[0] = mapped
            self.emit(
                "wait",
                "progress",
                f"task {task_id}: {status}",
                job,
                task_id=task_id,
                status=status,
                elapsed=round(time.monotonic() - started, 1),
            )

        try:
            task = self._await(provider, task_id, request.timeout, on_update, job)
        except TaskFailedError as exc:
            reason = exc.message
            self.ledger.update(lease, status=JobStatus.FAILED, error=reason)
            self.emit("wait", "fail", f"task {task_id} failed: {reason}", job, task_id=task_id)
            return self._result(request, self.ledger.get(job), Outcome.FAILED, reason=reason)
        except (APIConnectionError, ServerError, RateLimitError) as exc:
            reason = f"gave up waiting: {exc}"
            self.emit(
                "wait",
                "fail",
                f"{reason}; `preflight resume {job}` continues",
                job,
                task_id=task_id,
            )
            return self._result(request, self.ledger.get(job), Outcome.TIMED_OUT, reason=reason)
        url = task.video_url
        if not url:
            reason = f"task {task_id} succeeded without a result video"
            self.ledger.update(lease, status=JobStatus.FAILED, error=reason)
            return self._result(request, self.ledger.get(job), Outcome.FAILED, reason=reason)
        self.emit("wait", "done", f"task {task_id} succeeded", job, task_id=task_id)
        return self.ledger.update(
            lease, status=JobStatus.SUCCEEDED, result_url=url, **self._afterwards(provider, task)
        )

    def _afterwards(self, provider: Provider, task: Task) -> dict[str, Any]:
        """What the ledger keeps of a finished task: what it billed, when its result goes."""
        from preflight.submitting.registry import entry

        found = entry(provider.name)
        kept: dict[str, Any] = {}
        if task.cost_units is not None:
            kept["billed"] = {
                "amount": task.cost_units,
                "unit": found.billed_unit or "units",
                "task_id": task.id,
            }
        if found.result_days is not None:
            made = task.created_at.timestamp() if task.created_at is not None else None
            now = self.ledger.clock()
            # from the task's creation (the earlier moment, so never later than the provider)
            start = min(made, now) if made is not None else now
            kept["result_expires"] = start + found.result_days * 86400.0
        return kept

    def _await(
        self,
        provider: Provider,
        task_id: str,
        timeout: float | None,
        on_update: Callable[[Task], object],
        job: str,
    ) -> Task:
        """The task once it ended: woken by callbacks when its create carried the listener's URL
        (`preflight.submitting.listen`), else by polling alone. A task created before the
        listener started (`resume --listen`) may or may not call it (its URL is the one that run
        sent): it is polled as usual (quietly), and a callback that comes still wakes it."""
        listener = self.listener
        if listener is None:
            return provider.wait(task_id, timeout=timeout, on_update=on_update)
        relied = listener.expects(task_id)
        if not relied:
            self.emit(
                "wait",
                "info",
                f"task {task_id} was created before this receiver started: its callbacks come "
                "here only if that run sent this receiver's address (e.g. the same --public-url); "
                "polling as usual",
                job,
                task_id=task_id,
            )

        def note(message: str, **data: Any) -> None:
            if relied or data.get("via") != "poll":
                self.emit(
                    "wait", "info", f"task {task_id}: {message}", job, task_id=task_id, **data
                )

        from preflight.submitting.listen import usual_polls

        polls = None if relied else usual_polls()
        return listener.wait(
            provider, task_id, timeout=timeout, on_update=on_update, on_note=note, polls=polls
        )

    def _download(
        self, request: SubmitRequest, record: JobRecord, lease: Lease, out: Path, resumed: bool
    ) -> JobResult:
        job = record.job_id
        assert record.result_url is not None
        self.emit("download", "start", f"downloading to {out}", job, path=str(out))
        shown = [-1]

        def progress(done: int, total: int | None) -> None:
            step = int(done * 10 / total) if total else done // (1 << 20)  # 10 % (or 1 MB) steps
            if step != shown[0]:
                shown[0] = step
                size = (
                    f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
                )
                self.emit("download", "progress", f"downloading: {size}", job, bytes=done,
                          total=total)  # fmt: skip

        download(record.result_url, out, on_progress=progress)
        self.emit(
            "download",
            "done",
            f"downloaded {out.stat().st_size} bytes",
            job,
            path=str(out),
            bytes=out.stat().st_size,
        )
        record = self.ledger.update(lease, status=JobStatus.DONE, result_path=str(out))
        self.emit("done", "done", f"result at {out}", job, output=str(out), task_id=record.task_id)
        return self._result(request, record, Outcome.DONE, output=out, resumed=resumed)

    def _finished(self, request: SubmitRequest, record: JobRecord, out: Path) -> JobResult:
        """The result of a job another process finished."""
        if record.status is JobStatus.DONE and record.result_path:
            output = deliver(Path(record.result_path), out)
            self.emit("done", "done", f"result at {output}", record.job_id, output=str(output))
            return self._result(request, record, Outcome.DONE, output=output, resumed=True)
        outcome = {
            JobStatus.REJECTED: Outcome.REJECTED,
            JobStatus.CANCELLED: Outcome.CANCELLED,
        }.get(record.status, Outcome.FAILED)
        return self._result(request, record, outcome, reason=record.error, resumed=True)


def deliver(result: Path, out: Path) -> Path:
    """The finished file at ``out`` (copied there, whole, when the job wrote it elsewhere)."""
    if result.resolve() == out.resolve():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(result, "rb") as source, atomic_open(out) as target:
        shutil.copyfileobj(source, target)
    return out
