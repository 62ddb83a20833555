"""WaveSpeedAI's endpoints: the two Kling lip-sync models, results, and both uploads (the
current upload instruction + PUT in `_uploads`, the older binary multipart one here)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from preflight.model.atomic import move_into_place
from preflight.sandbox import _checks as checks
from preflight.sandbox import _limits as limits
from preflight.sandbox import _uploads
from preflight.sandbox._auth import check_wavespeed_key
from preflight.sandbox._body import read_body
from preflight.sandbox._checks import Invalid
from preflight.sandbox._core import Core
from preflight.sandbox._http import DropConnection, wavespeed_error, wavespeed_ok
from preflight.sandbox._media import MediaRejected, tone_for
from preflight.sandbox._store import Task

__all__ = ["routes"]

TEXT_MODEL = "kwaivgi/kling-lipsync/text-to-video"
AUDIO_MODEL = "kwaivgi/kling-lipsync/audio-to-video"
ENDPOINTS = {
    TEXT_MODEL: limits.ENDPOINTS["wavespeed text-to-video"],
    AUDIO_MODEL: limits.ENDPOINTS["wavespeed audio-to-video"],
}
KIND_CODE = {"missing": 1400, "invalid": 1401, "unreachable": 1402}


def _too_many(core: Core) -> Response:
    core.refused[429] += 1
    return wavespeed_error(429, "Too many requests", 429)


def _unauthorized() -> Response:
    return wavespeed_error(401, "Unauthorized: invalid or missing API key", 401)


async def submit(request: Request) -> Response:
    core: Core = request.app.state.core
    await core.arrive()
    if not check_wavespeed_key(
        request.headers.get("authorization"), api_key=core.config.wavespeed_api_key
    ):
        return _unauthorized()
    model = request.path_params["model"]
    if model not in (TEXT_MODEL, AUDIO_MODEL):
        return wavespeed_error(404, f"model {model} not found", 404)
    try:
        return await _submit(request, core, model)
    except Invalid as exc:
        return wavespeed_error(KIND_CODE[exc.kind], exc.message, 400)
    except MediaRejected as exc:
        code = 1402 if exc.unreachable else 1401
        return wavespeed_error(code, exc.message, 400)


async def _submit(request: Request, core: Core, model: str) -> Response:
    body = checks.parse_json(await read_body(request))
    if not isinstance(body, dict):
        raise Invalid("the request body must be a JSON object")
    video_url = body.get("video")
    if not isinstance(video_url, str) or not video_url:
        raise Invalid("video is required", kind="missing")
    if model == TEXT_MODEL:
        params = checks.text_fields(body, "", default_voice="genshin_klee2", default_language="en")
    else:
        audio_url = body.get("audio")
        if not isinstance(audio_url, str) or not audio_url:
            raise Invalid("audio is required", kind="missing")
        params = {"audio": audio_url}
    params["video"] = video_url
    webhook = request.query_params.get("webhook")

    number, faults = core.count_create()
    if (faults.concurrency_every and number % faults.concurrency_every == 0) or (
        faults.rate_limit_every and number % faults.rate_limit_every == 0
    ):
        return _too_many(core)
    if faults.max_open_tasks is not None and core.store.open >= faults.max_open_tasks:
        return _too_many(core)

    endpoint = ENDPOINTS[model]
    assert endpoint.video is not None
    video = await core.media(endpoint.video, url=video_url)
    seconds = video.seconds
    work: dict[str, Any] = {"kind": "mux", "video": str(video.path), "seconds": seconds}
    if model == TEXT_MODEL:
        core.judge(endpoint, video, text=params)
        work["tone"] = tone_for(params["text"], params["voice_id"], params["voice_speed"], seconds)
    else:
        assert endpoint.audio is not None
        audio = await core.media(endpoint.audio, url=params["audio"])
        core.judge(endpoint, video, audio)
        work["audio"] = str(audio.path)

    now = core.clock.now_ms()
    task = Task(
        id="",
        provider="wavespeed",
        endpoint=model,
        params=params,
        work=work,
        created_at=now,
        updated_at=now,
        webhook_url=webhook,
    )
    with core.store.lock:
        if faults.max_open_tasks is not None and core.store.open >= faults.max_open_tasks:
            return _too_many(core)
        task.id = core.store.new_wavespeed_id()
        core.add_task(task, faults.fail_every)
        data = core.wavespeed_object(task)
    if faults.drop_after_create_every and number % faults.drop_after_create_every == 0:
        return DropConnection()
    if (
        faults.server_error_after_create_every
        and number % faults.server_error_after_create_every == 0
    ):
        return wavespeed_error(5000, "Internal server error", 500)
    return wavespeed_ok(data)


async def result(request: Request) -> Response:
    core: Core = request.app.state.core
    await core.arrive()
    if not check_wavespeed_key(
        request.headers.get("authorization"), api_key=core.config.wavespeed_api_key
    ):
        return _unauthorized()
    task_id = request.path_params["task_id"]
    with core.store.lock:
        task = core.store.tasks.get(task_id)
        if task is None or task.provider != "wavespeed":
            return wavespeed_error(404, f"prediction {task_id} not found", 404)
        data = core.wavespeed_object(task)
    return wavespeed_ok(data)


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and part headers around the file
DRAIN_MAX = 16 * 1024 * 1024  # read at most this much more of a refused body (and for at most
DRAIN_SECONDS = 2.0  # this long), so the client gets its 413 instead of a reset


class _TooLarge(Exception):
    """The request body went past the upload cap."""


class _Body:
    """Reads the request body for the multipart parser, stopping with _TooLarge past ``limit``
    bytes: the parser spools files to disk, so without it a 1 GB upload is written out whole."""

    def __init__(self, request: Request, limit: int) -> None:
        self.request = request
        self.limit = limit
        self.received = 0
        self.finished = False

    async def receive(self) -> Message:
        message = await self.request.receive()
        if message["type"] != "http.request":
            self.finished = True
            return message
        self.received += len(message.get("body", b""))
        self.finished = not message.get("more_body", False)
        if self.received > self.limit:
            raise _TooLarge
        return message

    async def drain(self) -> None:
        """Read (and drop) a little more of a refused body, so the client, still sending, gets
        the 413 rather than a reset. Never waits once the body has ended."""
        drained = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_SECONDS):
                while not self.finished and drained <= DRAIN_MAX:
                    message = await self.request.receive()
                    if message["type"] != "http.request":
                        return
                    drained += len(message.get("body", b""))
                    self.finished = not message.get("more_body", False)


def _too_large(cap: int) -> Response:
    return wavespeed_error(413, f"the uploaded file is larger than {cap} bytes", 413)


async def upload(request: Request) -> Response:
    core: Core = request.app.state.core
    await core.arrive()
    if not check_wavespeed_key(
        request.headers.get("authorization"), api_key=core.config.wavespeed_api_key
    ):
        return _unauthorized()
    cap = core.config.upload_max_bytes
    body = _Body(request, cap + FORM_OVERHEAD)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap + FORM_OVERHEAD:
        await body.drain()
        return _too_large(cap)
    try:
        return await _store_upload(core, Request(request.scope, body.receive), cap)
    except _TooLarge:
        await body.drain()
        return _too_large(cap)


async def _store_upload(core: Core, request: Request, cap: int) -> Response:
    async with request.form(max_files=1) as form:
        item = form.get("file")
        if not isinstance(item, UploadFile):
            return wavespeed_error(1400, "multipart field `file` is required", 400)
        name = _SAFE.sub("_", Path(item.filename or "upload").name) or "upload"
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=core.inputs, prefix=".upload-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := await item.read(1 << 16):
                    size += len(chunk)
                    if size > cap:
                        raise _TooLarge
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                return wavespeed_error(1401, "the uploaded file is empty", 400)
            folder = core.data_dir / "uploads" / digest.hexdigest()[:16]
            folder.mkdir(parents=True, exist_ok=True)
            target = move_into_place(tmp, folder / name)
        finally:
            Path(tmp).unlink(missing_ok=True)
        content_type = item.content_type or "application/octet-stream"
    url = core.serve(f"uploads/{folder.name}/{name}", target)
    return wavespeed_ok({"type": content_type, "download_url": url, "filename": name, "size": size})


async def upload_ticket(request: Request) -> Response:
    """The current upload (`_uploads.ticket`); with it switched off, the 404 an older deployment
    gives (the path is then just an unknown model)."""
    core: Core = request.app.state.core
    if core.config.wavespeed_upload_tickets:
        return await _uploads.ticket(request)
    await core.arrive()
    if not check_wavespeed_key(
        request.headers.get("authorization"), api_key=core.config.wavespeed_api_key
    ):
        return _unauthorized()
    return wavespeed_error(404, "model media/uploads not found", 404)


def routes() -> list[Route]:
    return [
        Route("/api/v3/media/uploads", upload_ticket, methods=["POST"]),
        *_uploads.storage_routes(),
        Route("/api/v3/media/upload/binary", upload, methods=["POST"]),
        Route("/api/v3/predictions/{task_id}/result", result, methods=["GET"]),
        Route("/api/v3/{model:path}", submit, methods=["POST"]),
    ]
