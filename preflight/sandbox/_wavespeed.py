"""WaveSpeedAI's endpoints: the two Kling lip-sync models, results, and binary upload."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from preflight.model.atomic import move_into_place
from preflight.sandbox import _checks as checks
from preflight.sandbox._auth import check_wavespeed_key
from preflight.sandbox._checks import Invalid
from preflight.sandbox._core import Core
from preflight.sandbox._http import DropConnection, wavespeed_error, wavespeed_ok
from preflight.sandbox._media import MediaRejected, tone_for
from preflight.sandbox._store import Task

__all__ = ["routes"]

TEXT_MODEL = "kwaivgi/kling-lipsync/text-to-video"
AUDIO_MODEL = "kwaivgi/kling-lipsync/audio-to-video"
UPLOAD_MAX = 100 * 1024 * 1024
PROFILES = {TEXT_MODEL: "wavespeed-kling-lipsync-t2v", AUDIO_MODEL: "wavespeed-kling-lipsync-a2v"}
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
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise Invalid("the request body is not valid JSON") from exc
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

    profile = core.profile(PROFILES[model])
    video = await core.media("video", profile, url=video_url)
    seconds = video.seconds
    work: dict[str, Any] = {"kind": "mux", "video": str(video.path), "seconds": seconds}
    if model == TEXT_MODEL:
        core.judge(
            profile,
            video,
            text=params["text"],
            voice_id=params["voice_id"],
            voice_language=params["voice_language"],
            voice_speed=params["voice_speed"],
        )
        work["tone"] = tone_for(params["text"], params["voice_id"], params["voice_speed"], seconds)
    else:
        audio = await core.media("audio", profile, url=params["audio"])
        core.judge(profile, video, audio)
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


async def upload(request: Request) -> Response:
    core: Core = request.app.state.core
    await core.arrive()
    if not check_wavespeed_key(
        request.headers.get("authorization"), api_key=core.config.wavespeed_api_key
    ):
        return _unauthorized()
    async with request.form(max_part_size=UPLOAD_MAX) as form:
        item = form.get("file")
        if not isinstance(item, UploadFile):
            return wavespeed_error(1400, "multipart field `file` is required", 400)
        name = _SAFE.sub("_", Path(item.filename or "upload").name) or "upload"
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=core.inputs, prefix=".upload-")
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := await item.read(1 << 16):
                size += len(chunk)
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            Path(tmp).unlink(missing_ok=True)
            return wavespeed_error(1401, "the uploaded file is empty", 400)
        folder = core.data_dir / "uploads" / digest.hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        target = move_into_place(tmp, folder / name)
        content_type = item.content_type or "application/octet-stream"
    url = core.serve(f"uploads/{folder.name}/{name}", target)
    return wavespeed_ok({"type": content_type, "download_url": url, "filename": name, "size": size})


def routes() -> list[Route]:
    return [
        Route("/api/v3/media/upload/binary", upload, methods=["POST"]),
        Route("/api/v3/predictions/{task_id}/result", result, methods=["GET"]),
        Route("/api/v3/{model:path}", submit, methods=["POST"]),
    ]
