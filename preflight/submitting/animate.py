"""Image to talking video, the provider's documented chain: image2video, then lip-sync.

The image and prompt are checked against ``kling-image2video``; the image2video task is a ledger
job of its own (so a re-run finds it instead of paying again: Kling keeps our
``external_task_id`` for this endpoint and can be queried by it); its result URL then goes through
the same path as `preflight submit`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preflight.model.errors import (
    APIConnectionError,
    ContentPolicyError,
    InvalidRequestError,
    ServerError,
    TaskFailedError,
)
from preflight.model.findings import Severity
from preflight.model.speech import SPEECH_FIELDS
from preflight.submitting.caches import HashCache
from preflight.submitting.ledger import JobRecord, JobStatus, Lease, job_key
from preflight.submitting.model import OUT_SUFFIX, JobResult, Outcome, SubmitRequest, is_url
from preflight.submitting.pipeline import Submitter, _url_fingerprint

__all__ = ["IMAGE_PROFILE", "AnimateRequest", "run_animate"]

IMAGE_PROFILE = "kling-image2video"
ENDPOINT = "image2video"


@dataclass(frozen=True, slots=True)
class AnimateRequest:
    """``image`` (path or URL) and ``prompt`` for image2video, then text+voice or audio."""

    image: str
    prompt: str
    negative_prompt: str | None = None
    duration: str = "5"
    mode: str = "std"
    model_name: str | None = None
    audio: str | None = None
    text: str | None = None
    voice_id: str | None = None
    voice_language: str | None = None
    voice_speed: float | None = None
    fix: bool = True
    face: bool = True
    strict: bool = False
    config: str | None = None
    upload_to: str | None = None
    timeout: float | None = None
    out: str | None = None
    new: bool = False

    def lip_sync(self, video_url: str) -> SubmitRequest:
        out = self.out
        if out is None:
            if is_url(self.image):
                out = str(Path.cwd() / f"animated{OUT_SUFFIX}")
            else:
                image = Path(self.image)
                out = str(image.with_name(f"{image.stem}{OUT_SUFFIX}"))
        return SubmitRequest(
            video=video_url,
            provider="kling",
            audio=self.audio,
            **{name: getattr(self, name) for name in SPEECH_FIELDS},
            fix=self.fix,
            face=self.face,
            strict=self.strict,
            config=self.config,
            upload_to=self.upload_to,
            out=out,
            timeout=self.timeout,
            new=self.new,
            name=os.path.basename(self.image),
        )

    def params(self) -> dict[str, Any]:
        data = {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "duration": str(self.duration),
            "mode": self.mode,
            "model_name": self.model_name,
        }
        return {k: v for k, v in data.items() if v is not None}


def run_animate(submitter: Submitter, request: AnimateRequest) -> JobResult:
    """Generate the video from the image, then lip-sync it; how the whole chain ended.

    The image2video job walks the same states as a lip-sync job (`preflight.submitting.states`):
    ``pending`` → ``checked`` → ``hosted`` → ``creating`` → ``submitted`` → ``succeeded`` →
    ``done``, each written to the ledger as it completes.
    """
    request.lip_sync("https://placeholder.invalid/v.mp4").validate()  # usage errors first
    steps = _Image2Video(submitter, request)
    rejected = steps.check()
    if rejected is not None:
        return rejected
    record, lease = steps.open()
    try:
        if lease is not None and record.status is not JobStatus.DONE:
            ended = steps.drive(record, lease)
            if isinstance(ended, JobResult):
                return ended
            record = ended
    finally:
        if lease is not None:
            lease.release()
    if record.status is not JobStatus.DONE or not record.result_url:
        return steps.result(
            Outcome.FAILED, record, reason=record.error or "image2video did not finish"
        )
    return submitter.run(request.lip_sync(record.result_url))


class _Image2Video:
    """The image2video half of `run_animate`, one method per step."""

    def __init__(self, submitter: Submitter, request: AnimateRequest) -> None:
        self.submitter = submitter
        self.request = request
        self.name = os.path.basename(request.image)
        self.client: Any = submitter.provider("kling").client  # type: ignore[attr-defined]
        self.ledger = submitter.ledger
        self.emit = submitter.emit

    def result(self, outcome: Outcome, record: JobRecord | None = None, **kw: Any) -> JobResult:
        if record is not None:
            kw.setdefault("job_id", record.job_id)
            kw.setdefault("task_id", record.task_id)
        return JobResult(self.name, outcome, provider="kling", **kw)

    def check(self) -> JobResult | None:
        """Judge the image and prompt against `IMAGE_PROFILE`; a rejection ends the chain."""
        from preflight.checking.check import check

        request = self.request
        self.emit("check", "start", f"checking the image against {IMAGE_PROFILE}", None)
        report = check(  # the one verdict, under the same config and strictness as the lip-sync
            [request.image],
            profile=IMAGE_PROFILE,
            config=request.config,
            strict=request.strict,
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
        )
        result = report.results[0]
        worst = Severity.WARNING if request.strict else Severity.ERROR
        errors = [f for f in result.findings if f.severity.rank >= worst.rank]
        self.emit(
            "check",
            "done" if result.ok else "fail",
            "passes" if result.ok else f"{len(errors)} error(s) against {IMAGE_PROFILE}",
            None,
            ok=result.ok,
            findings=[f.to_dict() for f in result.findings],
        )
        if result.ok:
            return None
        reason = "; ".join(f"{f.rule}: {f.message}" for f in errors)
        return self.result(Outcome.REJECTED, reason=reason, findings=result.findings)

    def open(self) -> tuple[JobRecord, Lease | None]:
        """The ledger row of this image2video job (found again on a re-run), with its lease."""
        request = self.request
        inputs = {
            "image": _url_fingerprint(request.image)
            if is_url(request.image)
            else {"sha256": HashCache(self.ledger).sha256(request.image)}
        }
        key = job_key("kling", ENDPOINT, request.params(), inputs)
        record, lease = self.ledger.open_job(
            key,
            name=self.name,
            provider="kling",
            endpoint=ENDPOINT,
            params=request.params(),
            inputs=inputs,
            options={"image": request.image},
            new=request.new,
        )
        if lease is None:
            record, lease = self.ledger.wait_claim(record.job_id)
        return record, lease

    def drive(self, record: JobRecord, lease: Lease) -> JobRecord | JobResult:
        """From wherever the row stands to ``done`` (or how it ended short of that)."""
        if record.status is JobStatus.SUCCEEDED:
            return self.ledger.update(lease, status=JobStatus.DONE)
        if record.status is JobStatus.FAILED:
            return self.result(Outcome.FAILED, record, reason=record.error)
        task_id = record.task_id
        if task_id is None and record.status is JobStatus.CREATING:
            task_id = self.reconcile(record)
            if task_id is not None:
                record = self.ledger.update(lease, status=JobStatus.SUBMITTED, task_id=task_id)
        if task_id is None:
            created = self.create(record, lease)
            if isinstance(created, JobResult):
                return created
            record = created
        return self.wait(record, lease)

    def reconcile(self, record: JobRecord) -> str | None:
        """The task an earlier run created, by our external id (Kling keeps it here)."""
        try:
            found: str = self.client.get_image2video(external_task_id=record.external_task_id).id
        except InvalidRequestError:
            return None
        self.emit("create", "done", f"found task {found} from the earlier run", record.job_id)
        return found

    def create(self, record: JobRecord, lease: Lease) -> JobRecord | JobResult:
        """checked → hosted → creating → submitted: the one paid call."""
        request = self.request
        job = record.job_id
        image = request.image
        source = {"image_url": image} if is_url(image) else {"image_file": image}
        self.ledger.update(lease, status=JobStatus.CHECKED)
        self.ledger.update(
            lease,
            status=JobStatus.HOSTED,
            urls={"image": image if is_url(image) else f"inline:{image}"},
        )
        record = self.ledger.update(lease, status=JobStatus.CREATING)
        self.emit("create", "start", "creating the image2video task", job)
        try:
            task = self.client.create_image2video(
                **source, **request.params(), external_task_id=record.external_task_id
            )
        except (InvalidRequestError, ContentPolicyError) as exc:
            self.ledger.update(lease, status=JobStatus.FAILED, error=str(exc))
            return self.result(Outcome.FAILED, record, reason=str(exc))
        self.emit("create", "done", f"image2video task {task.id} created", job, task_id=task.id)
        return self.ledger.update(lease, status=JobStatus.SUBMITTED, task_id=task.id)

    def wait(self, record: JobRecord, lease: Lease) -> JobRecord | JobResult:
        """submitted → succeeded → done (the result URL is what the lip-sync step fetches)."""
        job, task_id = record.job_id, record.task_id
        self.emit("wait", "start", f"waiting for image2video task {task_id}", job)
        try:
            done = self.client.wait(
                self.client.get_image2video(task_id),
                timeout=self.request.timeout,
                on_update=lambda t: self.emit(
                    "wait", "progress", f"image2video {t.id}: {t.status.value}", job
                ),
            )
        except TaskFailedError as exc:
            self.ledger.update(lease, status=JobStatus.FAILED, error=exc.message)
            return self.result(Outcome.FAILED, record, reason=exc.message)
        except (APIConnectionError, ServerError) as exc:
            return self.result(Outcome.TIMED_OUT, record, reason=f"gave up waiting: {exc}")
        self.ledger.update(lease, status=JobStatus.SUCCEEDED, result_url=done.video_url)
        self.emit("wait", "done", f"image2video task {task_id} succeeded", job)
        return self.ledger.update(lease, status=JobStatus.DONE)
