"""fal's queue API for its two Kling lip-sync models, and its CDN upload.

Routes (one origin stands in for ``queue.fal.run``, ``rest.fal.ai`` and ``v3.fal.media``)::

    POST /fal-ai/kling-video/lipsync/{audio,text}-to-video[?fal_webhook=URL]   queue a request
    GET  /fal-ai/kling-video/requests/{id}/status[?logs=1]                      its status
    GET  /fal-ai/kling-video/requests/{id}                                      its output
    PUT  /fal-ai/kling-video/requests/{id}/cancel                               cancel it
    POST /storage/auth/token?storage_type=fal-cdn-v3                            a CDN token
    POST /files/upload                                                          bytes -> access_url

Errors are fal's: an HTTP status and ``{"detail": ...}`` (a list of ``{loc, msg, type}`` for a
422). Requests are judged by the sandbox's own limits table (``_limits``: "fal ...").
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from preflight.model.atomic import move_into_place
from preflight.sandbox import _checks as checks
from preflight.sandbox import _fal_wire as wire
from preflight.sandbox import _limits as limits
from preflight.sandbox._body import read_body
from preflight.sandbox._checks import Invalid
from preflight.sandbox._core import Core
from preflight.sandbox._http import DropConnection
from preflight.sandbox._media import MediaRejected, tone_for
from preflight.sandbox._store import Task

__all__ = ["fal_error", "routes"]

AUDIO_MODEL = "fal-ai/kling-video/lipsync/audio-to-video"
TEXT_MODEL = "fal-ai/kling-video/lipsync/text-to-video"
ENDPOINTS = {
    AUDIO_MODEL: limits.ENDPOINTS["fal audio-to-video"],
    TEXT_MODEL: limits.ENDPOINTS["fal text-to-video"],
}
TOKEN_SECONDS = 3600  # how long a CDN token is said to last
CANCELLED = "Request cancelled by the user"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def fal_error(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _problem(field: str, message: str, kind: str) -> JSONResponse:
    return fal_error(422, [{"loc": ["body", field], "msg": message, "type": kind}])


def _key_ok(request: Request, core: Core) -> bool:
    scheme, _, key = (request.headers.get("authorization") or "").strip().partition(" ")
    return scheme.lower() == "key" and hmac.compare_digest(key.strip(), core.config.fal_key)


def _unauthorized() -> Response:
    return fal_error(401, "No user found for Key ID and Secret")


def _cdn_token(core: Core) -> str:
    """The CDN token this sandbox hands out: derived from its key, never the key itself."""
    return hmac.new(core.config.fal_key.encode(), b"fal-cdn-v3", hashlib.sha256).hexdigest()


# -- the queue -------------------------------------------------------------------------------
async def submit(request: Request) -> Response:
    core: Core = request.app.state.core
    await core.arrive()
    if not _key_ok(request, core):
        return _unauthorized()
    model = "fal-ai/" + request.path_params["path"].strip("/")
    if model not in ENDPOINTS:
        return fal_error(404, f"Application '{model}' not found")
    try:
        return await _submit(request, core, model)
    except Invalid as exc:
        return _problem("video_url", exc.message, "value_error")
    except MediaRejected as exc:
        kind = "file_download_error" if exc.unreachable else "value_error"
        return _problem("video_url", exc.message, kind)


def _fields(body: Any, model: str) -> dict[str, Any]:
    """The request's fields, with the model's defaults; Invalid for a missing or bad one."""
    if not isinstance(body, dict):
        raise Invalid("the request body must be a JSON object")
    video_url = body.get("video_url")
    if not isinstance(video_url, str) or not video_url:
        raise Invalid("video_url: field required", kind="missing")
    if model == TEXT_MODEL:
        params = checks.text_fields(body, "", default_voice=None, default_language="en")
    else:
        audio_url = body.get("audio_url")
        if not isinstance(audio_url, str) or not audio_url:
            raise Invalid("audio_url: field required", kind="missing")
        params = {"audio_url": audio_url}
    params["video_url"] = video_url
    return params


async def _submit(request: Request, core: Core, model: str) -> Response:
    params = _fields(checks.parse_json(await read_body(request)), model)
    number, faults = core.count_create()
    if (faults.concurrency_every and number % faults.concurrency_every == 0) or (
        faults.rate_limit_every and number % faults.rate_limit_every == 0
    ):
        core.refused[429] += 1
        return fal_error(429, "Too many requests: concurrent request limit reached")
    if faults.billing_every and number % faults.billing_every == 0:
        core.refused[403] += 1
        return fal_error(403, "User is locked. Reason: Exhausted balance.")
    if faults.max_open_tasks is not None and core.store.open >= faults.max_open_tasks:
        core.refused[429] += 1
        return fal_error(429, "Too many requests: concurrent request limit reached")

    endpoint = ENDPOINTS[model]
    assert endpoint.video is not None
    video = await core.media(endpoint.video, url=params["video_url"])
    work: dict[str, Any] = {"kind": "mux", "video": str(video.path), "seconds": video.seconds}
    if model == TEXT_MODEL:
        core.judge(endpoint, video, text=params)
        work["tone"] = tone_for(
            params["text"], params["voice_id"], params["voice_speed"], video.seconds
        )
    else:
        assert endpoint.audio is not None
        audio = await core.media(endpoint.audio, url=params["audio_url"])
        core.judge(endpoint, video, audio)
        work["audio"] = str(audio.path)

    now = core.clock.now_ms()
    task = Task(
        id="",
        provider="fal",
        endpoint=model,
        params=params,
        work=work,
        created_at=now,
        updated_at=now,
        webhook_url=request.query_params.get("fal_webhook"),
    )
    with core.store.lock:
        if faults.max_open_tasks is not None and core.store.open >= faults.max_open_tasks:
            return fal_error(429, "Too many requests: concurrent request limit reached")
        task.id = core.store.new_fal_id()
        core.add_task(task, faults.fail_every)
        position = _position(core, task)
    if faults.drop_after_create_every and number % faults.drop_after_create_every == 0:
        return DropConnection()
    if (
        faults.server_error_after_create_every
        and number % faults.server_error_after_create_every == 0
    ):
        return fal_error(500, "Internal server error")
    body = {
        "status": "IN_QUEUE",
        "request_id": task.id,
        **wire.request_urls(core.base_url, task.id),
        "queue_position": position,
    }
    return JSONResponse(body, headers={"x-fal-request-id": task.id})


def _position(core: Core, task: Task) -> int:
    """How many fal requests wait ahead of ``task`` (caller holds the lock)."""
    return sum(
        1
        for other in core.store.open_tasks()
        if other.provider == "fal"
        and other.status == "submitted"
        and (other.created_at, other.id) < (task.created_at, task.id)
        and other.id != task.id
    )


def _find(request: Request, core: Core) -> Task | Response:
    """The request named in the path (caller holds the lock), or fal's 404."""
    if request.path_params["app"] != wire.APP.split("/", 1)[1]:
        return fal_error(404, "Application not found")
    found = core.store.tasks.get(request.path_params["request_id"])
    if found is None or found.provider != "fal":
        return fal_error(404, f"Request {request.path_params['request_id']} not found")
    return found


async def status(request: Request) -> Response:
    core: Core = request.app.state.core
    await core.arrive()
    if not _key_ok(request, core):
        return _unauthorized()
    logs = request.query_params.get("logs", "").lower() in ("1", "true")
    with core.store.lock:
        task = _find(request, core)
        if isinstance(task, Response):
            return task
        body = wire.status_body(task, core.base_url, position=_position(core, task), logs=logs)
    code = 202 if body["status"] != "COMPLETED" else 200
    return JSONResponse(body, status_code=code)


async def result(request: Request) -> Response:
    core: Core = request.app.state.core
    await core.arrive()
    if not _key_ok(request, core):
        return _unauthorized()
    with core.store.lock:
        task = _find(request, core)
        if isinstance(task, Response):
            return task
        state, message, url = task.status, task.status_msg, task.result_url
        path = core.store.files.get(f"results/{url.rsplit('/', 1)[-1]}") if url else None
        body = wire.result_body(task, path.stat().st_size if path else None)
    if state in ("submitted", "processing"):
        return fal_error(400, "Request is still in progress")
    if state == "failed":
        return fal_error(422, message)
    return JSONResponse(body)


async def cancel(request: Request) -> Response:
    core: Core = request.app.state.core
    await core.arrive()
    if not _key_ok(request, core):
        return _unauthorized()
    with core.store.lock:
        task = _find(request, core)
        if isinstance(task, Response):
            return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
        if task.status not in ("submitted", "processing"):
            return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
        task.cancelled = True
        core.store.set_status(task, "failed", CANCELLED, core.clock.now_ms())
        body = core.serialize(task)
    core.wake()
    core.spawn(core._notify(task.id, body))
    return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)


# -- storage ---------------------------------------------------------------------------------
async def token(request: Request) -> Response:
    core: Core = request.app.state.core
    await core.arrive()
    if not _key_ok(request, core):
        return _unauthorized()
    expires = datetime.now(UTC) + timedelta(seconds=TOKEN_SECONDS)
    return JSONResponse(
        {
            "token": _cdn_token(core),
            "token_type": "Bearer",
            "base_url": core.base_url,
            "expires_at": expires.isoformat(),
        },
        status_code=201,
    )


async def upload(request: Request) -> Response:
    core: Core = request.app.state.core
    await core.arrive()
    scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), _cdn_token(core)):
        return fal_error(401, "Invalid or expired CDN token")
    cap = min(core.config.upload_max_bytes, limits.FAL_UPLOAD.max_bytes)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        return fal_error(413, f"the file is larger than {cap} bytes")
    raw_name = request.headers.get("x-fal-file-name") or "upload.bin"
    name = _SAFE.sub("_", Path(raw_name).name) or "upload.bin"
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=core.inputs, prefix=".upload-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > cap:
                    return fal_error(413, f"the file is larger than {cap} bytes")
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            return fal_error(400, "the file is empty")
        folder = core.data_dir / "uploads" / digest.hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        target = move_into_place(tmp, folder / name)
    finally:
        Path(tmp).unlink(missing_ok=True)
    url = core.serve(f"uploads/{folder.name}/{name}", target)
    return JSONResponse({"access_url": url, "file_name": name, "file_size": size})


def routes() -> list[Route]:
    return [
        Route("/storage/auth/token", token, methods=["POST"]),
        Route("/files/upload", upload, methods=["POST"]),
        Route("/fal-ai/{app}/requests/{request_id}/status", status, methods=["GET"]),
        Route("/fal-ai/{app}/requests/{request_id}/cancel", cancel, methods=["PUT"]),
        Route("/fal-ai/{app}/requests/{request_id}", result, methods=["GET"]),
        Route("/fal-ai/{path:path}", submit, methods=["POST"]),
    ]
