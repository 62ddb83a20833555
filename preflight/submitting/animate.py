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
from preflight.submitting.ledger import JobStatus, job_key
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
            text=self.text,
            voice_id=self.voice_id,
            voice_language=self.voice_language,
            voice_speed=self.voice_speed,
            fix=self.fix,
            face=self.face,
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
    """Generate the video from the image, then lip-sync it; how the whole chain ended."""
    request.lip_sync("https://placeholder.invalid/v.mp4").validate()  # usage errors first
    name = os.path.basename(request.image)
    provider: Any = submitter.provider("kling")
    client = provider.client
    ledger = submitter.ledger
    emit = submitter.emit

    from preflight.checking.check import check

    emit("check", "start", f"checking the image against {IMAGE_PROFILE}", None)
    report = check(
        [request.image],
        profile=IMAGE_PROFILE,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
    )
    result = report.results[0]
    errors = [f for f in result.findings if f.severity is Severity.ERROR]
    emit(
        "check",
        "done" if result.ok else "fail",
        "passes" if result.ok else f"{len(errors)} error(s) against {IMAGE_PROFILE}",
        None,
        ok=result.ok,
        findings=[f.to_dict() for f in result.findings],
    )
    if not result.ok:
        reason = "; ".join(f"{f.rule}: {f.message}" for f in errors)
        return JobResult(
            name, Outcome.REJECTED, reason=reason, findings=result.findings, provider="kling"
        )

    image = {"url": request.image} if is_url(request.image) else None
    inputs = {
        "image": _url_fingerprint(request.image)
        if image
        else {"sha256": ledger.file_sha256(request.image)}
    }
    key = job_key("kling", ENDPOINT, request.params(), inputs)
    record, lease = ledger.open_job(
        key,
        name=name,
        provider="kling",
        endpoint=ENDPOINT,
        params=request.params(),
        inputs=inputs,
        options={"image": request.image},
        new=request.new,
    )
    if lease is None:
        record, lease = ledger.wait_claim(record.job_id)
    try:
        if lease is not None and record.result_url is None:
            job = record.job_id
            task_id = record.task_id
            if task_id is None and record.status is JobStatus.CREATING:
                try:
                    task_id = client.get_image2video(external_task_id=record.external_task_id).id
                    emit("create", "done", f"found task {task_id} from the earlier run", job)
                except InvalidRequestError:
                    task_id = None
            if task_id is None:
                record = ledger.update(lease, status=JobStatus.CREATING)
                emit("create", "start", "creating the image2video task", job)
                source = {"image_url": request.image} if image else {"image_file": request.image}
                try:
                    task = client.create_image2video(
                        **source, **request.params(), external_task_id=record.external_task_id
                    )
                except (InvalidRequestError, ContentPolicyError) as exc:
                    ledger.update(lease, status=JobStatus.FAILED, error=str(exc))
                    return JobResult(
                        name, Outcome.FAILED, job_id=job, reason=str(exc), provider="kling"
                    )
                task_id = task.id
                emit("create", "done", f"image2video task {task_id} created", job, task_id=task_id)
            record = ledger.update(lease, status=JobStatus.SUBMITTED, task_id=task_id)
            emit("wait", "start", f"waiting for image2video task {task_id}", job)
            try:
                done = client.wait(
                    client.get_image2video(task_id),
                    timeout=request.timeout,
                    on_update=lambda t: emit(
                        "wait", "progress", f"image2video {t.id}: {t.status.value}", job
                    ),
                )
            except TaskFailedError as exc:
                ledger.update(lease, status=JobStatus.FAILED, error=exc.message)
                return JobResult(
                    name,
                    Outcome.FAILED,
                    job_id=job,
                    task_id=task_id,
                    reason=exc.message,
                    provider="kling",
                )
            except (APIConnectionError, ServerError) as exc:
                return JobResult(
                    name,
                    Outcome.TIMED_OUT,
                    job_id=job,
                    task_id=task_id,
                    reason=f"gave up waiting: {exc}",
                    provider="kling",
                )
            record = ledger.update(lease, status=JobStatus.DONE, result_url=done.video_url)
            emit("wait", "done", f"image2video task {task_id} succeeded", job)
    finally:
        if lease is not None:
            lease.release()
    if record.status is not JobStatus.DONE or not record.result_url:
        return JobResult(
            name,
            Outcome.FAILED,
            job_id=record.job_id,
            task_id=record.task_id,
            reason=record.error or "image2video did not finish",
            provider="kling",
        )
    return submitter.run(request.lip_sync(record.result_url))
