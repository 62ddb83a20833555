"""The create step (``hosted`` → ``creating`` → ``submitted``): the one paid call.

The row is written as ``creating`` before the call, so a run that dies around it is reconciled
with the provider (a task with our external id, or with our inputs) before anything is created
again; a 1302/1303 answer started nothing and goes back to ``hosted`` to try again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from preflight.model.errors import (
    APIConnectionError,
    APIError,
    ConcurrencyLimitError,
    ContentPolicyError,
    InvalidRequestError,
    PreflightError,
    RateLimitError,
    ServerError,
)
from preflight.submitting._crashpoints import crash_point
from preflight.submitting.gate import MAX_CREATE_ATTEMPTS
from preflight.submitting.ledger import JobRecord, JobStatus, Lease
from preflight.submitting.model import JobResult, Outcome, SubmitRequest
from preflight.submitting.providers import Media, Provider
from preflight.submitting.steps.base import StepBase
from preflight.submitting.steps.host import decode_media

if TYPE_CHECKING:
    from preflight.client.models import Task

__all__ = ["Creating"]


class Creating(StepBase):
    """Create the task, or find the one an earlier run created."""

    def _create(
        self,
        request: SubmitRequest,
        provider: Provider,
        record: JobRecord,
        lease: Lease,
        media: Mapping[str, Media],
    ) -> JobRecord | JobResult:
        job = record.job_id
        for attempt in range(MAX_CREATE_ATTEMPTS):
            if lease.lost:
                raise PreflightError(f"job {job} was taken over by another process")
            record = self.ledger.update(lease, status=JobStatus.CREATING)
            self.emit(
                "create",
                "start",
                f"creating the {provider.name} task",
                job,
                external_task_id=record.external_task_id,
            )
            try:
                task = provider.create(self._calling_back(request), media, record.external_task_id)
            except (ConcurrencyLimitError, RateLimitError) as exc:
                # a 429 with 1302/1303 started nothing: back to hosted, wait, try again
                self.ledger.update(lease, status=JobStatus.HOSTED)
                self.gate.refused()
                self.emit(
                    "create",
                    "info",
                    f"provider busy ({exc}); backing off",
                    job,
                    attempt=attempt + 1,
                )
                self.gate.release()
                try:
                    self.gate.backoff(attempt)
                finally:
                    self.gate.acquire()
                continue
            except (InvalidRequestError, ContentPolicyError) as exc:
                reason = str(exc)
                self.ledger.update(lease, status=JobStatus.FAILED, error=reason)
                self.emit("create", "fail", f"the provider refused the job: {reason}", job)
                return self._result(request, self.ledger.get(job), Outcome.FAILED, reason=reason)
            except (APIConnectionError, ServerError) as exc:
                # the create may have started a task: stay `creating`, reconcile on the next run
                raise APIError(
                    f"{exc}; the job stays recorded as creating: run the same command again to "
                    "find the task (nothing is created twice)"
                ) from exc
            except APIError:
                if record.task_id is None:
                    self.ledger.update(lease, status=JobStatus.HOSTED)
                raise
            crash_point("after-create")
            if self.listener is not None and not request.callback_url:
                self.listener.expect(task.id)
            self.gate.created()
            record = self.ledger.update(lease, status=JobStatus.SUBMITTED, task_id=task.id)
            self.emit("create", "done", f"task {task.id} created", job, task_id=task.id)
            return record
        reason = f"the provider stayed at its concurrency limit for {MAX_CREATE_ATTEMPTS} tries"
        raise APIError(reason)

    def _calling_back(self, request: SubmitRequest) -> SubmitRequest:
        """The request as sent: with the listener's URL as its callback under `--listen` (sent
        only, never part of the job key or the ledger, so a re-run on another port resumes)."""
        if self.listener is None or request.callback_url:
            return request
        from dataclasses import replace

        return replace(request, callback_url=self.listener.url)

    def _reconcile(
        self, request: SubmitRequest, provider: Provider, record: JobRecord
    ) -> Task | None:
        job = record.job_id
        if not provider.can_find:
            raise APIError(
                f"job {job}: an earlier run stopped while creating a {provider.name} task, and "
                f"{provider.name} offers no way to look it up, so it may exist already. Check "
                "your tasks with the provider; to submit anyway, run again with --new"
            )
        media = decode_media(record.urls)
        self.emit(
            "create",
            "info",
            "an earlier run stopped around the create call: looking for its task",
            job,
        )
        if "video" not in media:
            return None
        found = provider.find(request, media, record.external_task_id, record.updated_at)
        if found is not None:
            self.emit(
                "create",
                "done",
                f"found task {found.id} from the earlier run",
                job,
                task_id=found.id,
                reconciled=True,
            )
        else:
            self.emit("create", "info", "no task was created by the earlier run", job)
        return found
