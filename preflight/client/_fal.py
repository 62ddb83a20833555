"""fal's queue API and storage upload as sans-I/O operations.

The wire format (fal's queue docs; the official ``fal-client`` speaks the same)::

    POST {queue}/{model}[?fal_webhook=URL]          -> {request_id, status_url, response_url,
                                                        cancel_url, queue_position}
    GET  {queue}/{owner}/{app}/requests/{id}/status -> {status: IN_QUEUE, queue_position}
                                                     | {status: IN_PROGRESS, logs}
                                                     | {status: COMPLETED, logs, metrics,
                                                        error?, error_type?}
    GET  {queue}/{owner}/{app}/requests/{id}        -> the model's output: {"video": {"url"...}}
    PUT  {queue}/{owner}/{app}/requests/{id}/cancel -> 202 CANCELLATION_REQUESTED
                                                     | 400 ALREADY_COMPLETED | 404 NOT_FOUND

Status, result and cancel address the app (``owner/app``: the model id's first two segments,
``fal-ai/kling-video`` for both lip-sync models), never the model's sub-path. Errors are plain
HTTP with ``{"detail": ...}`` (a string, or a list of ``{loc, msg, type}`` for 422), so the
class comes from the HTTP status alone. Every request carries ``Authorization: Key $FAL_KEY``.

A submit is never sent twice after an ambiguous failure: fal has no lookup of a request by
anything but its id, so the error says the request may exist (as WaveSpeed's does).

Uploads follow fal's CDN flow: a short-lived token from the REST API
(``POST {rest}/storage/auth/token?storage_type=fal-cdn-v3``), then the bytes in one
``POST {cdn}/files/upload`` with that token, answering ``{"access_url"}``. The key itself never
goes to the CDN.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from preflight.client._core import AmbiguousCreateError, Core, Op, _json_or_none
from preflight.client._errors import error_class
from preflight.client._files import FileBody
from preflight.client._policy import Failure, RetryPolicy
from preflight.client.models import Task, TaskKind, TaskStatus, Video
from preflight.model.errors import (
    APIError,
    ContentPolicyError,
    InvalidRequestError,
)

__all__ = [
    "AUDIO_TO_VIDEO_MODEL",
    "DEFAULT_FAL_CDN_URL",
    "DEFAULT_FAL_QUEUE_URL",
    "DEFAULT_FAL_REST_URL",
    "TEXT_TO_VIDEO_MODEL",
    "FalCore",
    "app_of",
    "task_from_status",
]

DEFAULT_FAL_QUEUE_URL = "https://queue.fal.run"
DEFAULT_FAL_REST_URL = "https://rest.fal.ai"
DEFAULT_FAL_CDN_URL = "https://v3.fal.media"
AUDIO_TO_VIDEO_MODEL = "fal-ai/kling-video/lipsync/audio-to-video"
TEXT_TO_VIDEO_MODEL = "fal-ai/kling-video/lipsync/text-to-video"
TOKEN_MARGIN = 60.0  # seconds: a CDN token this close to expiry is renewed first

_STATUS = {
    "IN_QUEUE": TaskStatus.SUBMITTED,
    "IN_PROGRESS": TaskStatus.PROCESSING,
    "COMPLETED": TaskStatus.SUCCEEDED,  # FAILED instead when it carries an error
}


def app_of(model: str) -> str:
    """The app a model belongs to (``owner/app``), where its requests are looked up."""
    parts = [p for p in model.strip("/").split("/") if p]
    if len(parts) < 2:
        raise InvalidRequestError(f"rejected before sending: bad fal model id {model!r}")
    return "/".join(parts[:2])


def _check_id(request_id: str) -> None:
    if not request_id or "/" in request_id or "?" in request_id:
        raise InvalidRequestError(f"rejected before sending: bad request id {request_id!r}")


def task_from_status(
    request_id: str,
    body: Mapping[str, Any],
    *,
    model: str | None = None,
    result: Mapping[str, Any] | None = None,
) -> Task:
    """A fal status answer (and, once completed, its result) as a Task."""
    raw_status = str(body.get("status", ""))
    status = _STATUS.get(raw_status, TaskStatus.UNKNOWN)
    error = body.get("error")
    message: str | None = None
    if raw_status == "COMPLETED" and error:
        status, message = TaskStatus.FAILED, str(error)
    elif raw_status == "IN_QUEUE" and body.get("queue_position") is not None:
        message = f"in queue, position {body['queue_position']}"
    elif raw_status == "IN_PROGRESS":
        logs = [entry for entry in body.get("logs") or () if isinstance(entry, Mapping)]
        message = str(logs[-1].get("message", "")) or None if logs else None
    videos: tuple[Video, ...] = ()
    video = (result or {}).get("video")
    if isinstance(video, Mapping) and video.get("url"):
        videos = (Video(url=str(video["url"])),)
    raw = dict(body)
    if result is not None:
        raw["result"] = dict(result)
    return Task(
        id=request_id,
        status=status,
        provider="fal",
        kind=TaskKind.FAL,
        status_message=message,
        videos=videos,
        model=model,
        raw=raw,
    )


@dataclass(slots=True)
class _CdnToken:
    header: str  # "Bearer <token>"
    base_url: str | None
    expires_at: float  # epoch seconds


class FalCore(Core):
    """fal's answers (plain JSON, ``detail`` on errors) and its operations."""

    provider = "fal"
    name = "fal"

    def __init__(
        self,
        key: str,
        base_url: str,
        *,
        rest_url: str,
        cdn_url: str,
        policy: RetryPolicy,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(base_url, policy=policy, clock=clock)
        self._key = key
        self.rest_url = rest_url.rstrip("/")
        self.cdn_url = cdn_url.rstrip("/")
        self._token: _CdnToken | None = None

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self._key}"}

    def url(self, path: str) -> str:
        """Paths go to the queue host; absolute URLs (REST API, CDN) as they are."""
        if path.startswith(("https://", "http://")):
            return path
        return super().url(path)

    def _interpret(
        self, reply: httpx.Response | httpx.TransportError, method: str, path: str
    ) -> Any | tuple[Failure, APIError]:
        if isinstance(reply, httpx.TransportError):
            return Failure(transport_error=reply), self._transport_error(reply)
        body = _json_or_none(reply)
        if reply.is_success:
            if body is None:
                error = APIError("fal: the answer was not a JSON object", http_status=200)
                return Failure(http_status=reply.status_code), error
            return body
        detail, kind = _detail(body, reply)
        cls = error_class("fal", None, reply.status_code)
        if kind and "content_policy" in kind:
            cls = ContentPolicyError
        request_id = reply.headers.get("x-fal-request-id")
        error = cls(f"fal: {detail}", http_status=reply.status_code, request_id=request_id)
        return Failure(http_status=reply.status_code, headers=reply.headers), error

    # --- the queue -----------------------------------------------------------------------------
    def submit(self, model: str, fields: Mapping[str, Any], webhook: str | None) -> Op[Task]:
        model = model.strip("/")
        app_of(model)
        params = {"fal_webhook": webhook} if webhook else None
        try:
            data = yield from self.request(
                "POST", f"/{model}", params=params, json=dict(fields), create=True
            )
        except AmbiguousCreateError as ambiguous:
            error = ambiguous.error
            raise type(error)(
                f"{error.message}; the request may have been queued (fal offers no lookup "
                "without its request id), so it was not submitted again",
                http_status=error.http_status,
                request_id=error.request_id,
            ) from error
        request_id = str(data.get("request_id") or "")
        if not request_id:
            raise APIError("fal: the submit answered without a request_id")
        return task_from_status(request_id, {"status": "IN_QUEUE", **data}, model=model)

    def status(self, model: str, request_id: str, *, logs: bool = True) -> Op[dict[str, Any]]:
        _check_id(request_id)
        params = {"logs": "1"} if logs else None
        path = f"/{app_of(model)}/requests/{request_id}/status"
        data: dict[str, Any] = yield from self.request("GET", path, params=params)
        return data

    def result(self, model: str, request_id: str) -> Op[dict[str, Any]]:
        """The model's output (``{"video": {"url", ...}}``) of a completed request."""
        _check_id(request_id)
        data: dict[str, Any] = yield from self.request(
            "GET", f"/{app_of(model)}/requests/{request_id}"
        )
        return data

    def fetch(self, model: str | None, request_id: str) -> Op[Task]:
        """The request as a Task: its status, and its result video once it completed.

        ``model`` only names the app to ask (any model of it will do); it is the Task's ``model``
        when given, else None (the status answer does not say which model it ran)."""
        body = yield from self.status(model or AUDIO_TO_VIDEO_MODEL, request_id)
        task = task_from_status(request_id, body, model=model)
        if task.status is not TaskStatus.SUCCEEDED:
            return task
        try:
            output = yield from self.result(model or AUDIO_TO_VIDEO_MODEL, request_id)
        except InvalidRequestError as exc:  # a completed request whose output is an error
            failed = {**body, "error": exc.message.removeprefix("fal: ")}
            return task_from_status(request_id, failed, model=model)
        return task_from_status(request_id, body, model=model, result=output)

    def refresh(self, task: Task) -> Op[Task]:
        return self.fetch(task.model, task.id)

    def cancel(self, model: str, request_id: str) -> Op[str]:
        """Ask fal to cancel; its answer: ``CANCELLATION_REQUESTED`` or ``ALREADY_COMPLETED``."""
        _check_id(request_id)
        path = f"/{app_of(model)}/requests/{request_id}/cancel"
        try:
            data = yield from self.request("PUT", path)
        except InvalidRequestError as exc:
            if exc.http_status == 400 and "ALREADY_COMPLETED" in exc.message:
                return "ALREADY_COMPLETED"
            raise
        return str(data.get("status") or "CANCELLATION_REQUESTED")

    # --- storage ------------------------------------------------------------------------------
    def _cdn_token(self) -> Op[_CdnToken]:
        token = self._token
        if token is not None and token.expires_at - TOKEN_MARGIN > self.clock():
            return token
        data = yield from self.request(
            "POST",
            f"{self.rest_url}/storage/auth/token",
            params={"storage_type": "fal-cdn-v3"},
            json={},
        )
        value, kind = data.get("token"), data.get("token_type") or "Bearer"
        if not value:
            raise APIError("fal: the storage token answer had no token")
        base = data.get("base_url")
        self._token = _CdnToken(
            header=f"{kind} {value}",
            base_url=str(base).rstrip("/") if base else None,
            expires_at=_expiry(data.get("expires_at"), self.clock()),
        )
        return self._token

    def upload(self, path: str | os.PathLike[str]) -> Op[str]:
        """Upload a local file to fal's CDN; its URL (``access_url``)."""
        file = Path(path)
        try:
            size = file.stat().st_size
            with file.open("rb"):
                pass
        except OSError as exc:
            raise InvalidRequestError(
                f"rejected before sending: cannot read {os.fspath(path)!r}: {exc.strerror or exc}"
            ) from exc
        mime = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        token = yield from self._cdn_token()
        target = f"{token.base_url or self.cdn_url}/files/upload"
        headers = {
            "Authorization": token.header,
            "Content-Type": mime,
            "X-Fal-File-Name": file.name,
        }
        body = FileBody(file, size)  # streamed, never held whole
        data = yield from self.request("POST", target, content=body, headers=headers)
        url = data.get("access_url")
        if not url:
            raise APIError("fal: the upload answered without an access_url")
        return str(url)


def _detail(body: Mapping[str, Any] | None, reply: httpx.Response) -> tuple[str, str | None]:
    """The error's text and type from fal's ``detail`` (a string or a list of problems)."""
    fallback = reply.reason_phrase or f"HTTP {reply.status_code}"
    if body is None:
        return fallback, reply.headers.get("x-fal-error-type")
    detail = body.get("detail")
    kind = body.get("error_type") or reply.headers.get("x-fal-error-type")
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if not isinstance(item, Mapping):
                continue
            where = ".".join(str(p) for p in item.get("loc") or () if p != "body")
            parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
            kind = kind or item.get("type")
        return "; ".join(parts) or fallback, str(kind) if kind else None
    text = detail or body.get("status") or body.get("message") or fallback
    return str(text), str(kind) if kind else None


def _expiry(value: Any, now: float) -> float:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return now + 300.0  # unknown: trust it for five minutes
