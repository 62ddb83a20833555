"""fal's answers, as pure functions of a sandbox task (the routes are in ``_fal``).

Tasks keep Kling's status names in the store; fal shows them as its queue statuses:
``submitted`` -> ``IN_QUEUE``, ``processing`` -> ``IN_PROGRESS``, ``succeed``/``failed`` ->
``COMPLETED`` (a failed one carries ``error`` and ``error_type``).
"""

from __future__ import annotations

from typing import Any

from preflight.sandbox._store import Task

__all__ = ["APP", "QUEUE_STATUS", "request_urls", "result_body", "status_body", "webhook_body"]

APP = "fal-ai/kling-video"  # the app both lip-sync models belong to
QUEUE_STATUS = {
    "submitted": "IN_QUEUE",
    "processing": "IN_PROGRESS",
    "succeed": "COMPLETED",
    "failed": "COMPLETED",
}


def request_urls(base_url: str, request_id: str) -> dict[str, str]:
    base = f"{base_url}/{APP}/requests/{request_id}"
    return {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}


def _logs(task: Task) -> list[dict[str, Any]]:
    """A log line per stage the task reached, as fal's logs look."""
    lines = []
    if task.status != "submitted":
        lines.append({"message": "lip-sync started", "level": "INFO", "source": "user"})
    if task.status == "succeed":
        lines.append({"message": "lip-sync finished", "level": "INFO", "source": "user"})
    return lines


def status_body(task: Task, base_url: str, *, position: int, logs: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": QUEUE_STATUS[task.status],
        "request_id": task.id,
        **request_urls(base_url, task.id),
    }
    if task.status == "submitted":
        body["queue_position"] = position
    else:
        body["logs"] = _logs(task) if logs else None
    if task.status in ("succeed", "failed"):
        body["metrics"] = {"inference_time": max(0, task.updated_at - task.created_at) / 1000}
    if task.status == "failed":
        body["error"] = task.status_msg
        body["error_type"] = "request_cancelled" if task.cancelled else "runner_error"
    return body


def result_body(task: Task, size: int | None = None) -> dict[str, Any]:
    """The model's output of a succeeded task (``size``: the result file's bytes)."""
    return {
        "video": {
            "url": task.result_url,
            "content_type": "video/mp4",
            "file_name": "output.mp4",
            "file_size": size,
        }
    }


def webhook_body(task: Task) -> dict[str, Any]:
    """What fal POSTs to ``fal_webhook`` once the request is done (``status`` OK or ERROR);
    an open task gives its queue status, which is never sent."""
    if task.status == "succeed":
        return {
            "request_id": task.id,
            "gateway_request_id": task.id,
            "status": "OK",
            "payload": result_body(task),
        }
    if task.status == "failed":
        return {
            "request_id": task.id,
            "gateway_request_id": task.id,
            "status": "ERROR",
            "error": task.status_msg,
            "payload": {"detail": task.status_msg},
        }
    return {"request_id": task.id, "status": QUEUE_STATUS[task.status]}
