"""Kling's endpoints: lip-sync, image2video, identify-face and advanced lip-sync."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from preflight.model.facts import MediaFacts
from preflight.sandbox import _checks as checks
from preflight.sandbox import _limits as limits
from preflight.sandbox._auth import AuthFailure, check_kling_token
from preflight.sandbox._body import read_body
from preflight.sandbox._checks import Invalid
from preflight.sandbox._core import Core, Input
from preflight.sandbox._faces import find_faces
from preflight.sandbox._http import DropConnection, kling_error, kling_ok
from preflight.sandbox._media import MediaRejected, extract_frame, tone_for
from preflight.sandbox._store import Session, Task

__all__ = ["routes"]

TEXT2VIDEO = limits.ENDPOINTS["kling lip-sync text2video"]
AUDIO2VIDEO = limits.ENDPOINTS["kling lip-sync audio2video"]
IDENTIFY_FACE = limits.ENDPOINTS["kling identify-face"]
ADVANCED = limits.ENDPOINTS["kling advanced-lip-sync"]
IMAGE2VIDEO = limits.ENDPOINTS["kling image2video"]
SESSION_SECONDS = 24 * 3600

Handler = Callable[[Request, Core], Awaitable[Response]]


def kling(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Delay (fault), authenticate, then run; a refused parameter becomes 1201."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        core: Core = request.app.state.core
        await core.arrive()
        try:
            check_kling_token(
                request.headers.get("authorization"),
                access_key=core.config.kling_access_key,
                secret_key=core.config.kling_secret_key,
                leeway=core.config.jwt_leeway_seconds,
            )
        except AuthFailure as exc:
            return kling_error(exc.code, exc.message)
        if core.take_expired_token():
            return kling_error(1004, "Authorization has expired")
        try:
            return await handler(request, core)
        except Invalid as exc:
            return kling_error(1201, exc.message)
        except MediaRejected as exc:
            return kling_error(1201, exc.message)

    return endpoint


async def json_body(request: Request) -> dict[str, Any]:
    body = checks.parse_json(await read_body(request))
    if not isinstance(body, dict):
        raise Invalid("the request body must be a JSON object")
    return body


def optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid(f"{key} must be a string")
    return value


# -- create plumbing --------------------------------------------------------------------------


def refuse_by_fault(core: Core) -> tuple[Response | None, int]:
    """Count a create and answer for a fault that means no task was started."""
    number, faults = core.count_create()

    def every(n: int) -> bool:
        return n > 0 and number % n == 0

    if every(faults.billing_every):
        core.refused[1102] += 1
        return kling_error(1102, "Account balance is insufficient: resource pack used up"), number
    if every(faults.rate_limit_every):
        core.refused[1302] += 1
        return kling_error(1302, "Too many requests: the rate limit was exceeded"), number
    if every(faults.concurrency_every):
        return too_many_open(core), number
    if faults.max_open_tasks is not None:
        with core.store.lock:
            if core.store.open >= faults.max_open_tasks:
                return too_many_open(core), number
    return None, number


def too_many_open(core: Core) -> Response:
    core.refused[1303] += 1
    return kling_error(1303, "The number of parallel tasks exceeds the resource pack limit")


def new_task(core: Core, endpoint: str, **fields: Any) -> Task:
    now = core.clock.now_ms()
    return Task(
        id="", provider="kling", endpoint=endpoint, created_at=now, updated_at=now, **fields
    )


def commit(core: Core, task: Task, number: int) -> Response:
    """Store the task (unless the pack is full now) and answer, or misbehave as configured."""
    faults = core.faults
    with core.store.lock:
        if faults.max_open_tasks is not None and core.store.open >= faults.max_open_tasks:
            return too_many_open(core)
        if task.external_task_id and (task.endpoint, task.external_task_id) in core.store.external:
            raise Invalid("external_task_id is already used by another task")
        task.id = core.store.new_kling_id()
        core.add_task(task, faults.fail_every)
        data = core.kling_object(task)
    data.pop("task_result")
    data.pop("task_status_msg")
    if faults.drop_after_create_every and number % faults.drop_after_create_every == 0:
        return DropConnection()
    if (
        faults.server_error_after_create_every
        and number % faults.server_error_after_create_every == 0
    ):
        return kling_error(5000, "Internal server error")
    return kling_ok(data)


async def video_input(
    core: Core, rules: limits.Media, video_url: str | None, video_id: str | None
) -> tuple[Input, dict[str, str]]:
    """Fetch (or look up) the video; the input and its parent_video record."""
    if video_id:
        found = core.video_ids.get(video_id)
        if found is None:
            raise Invalid(f"video_id {video_id} does not name a video of this account")
        path, url = found
        video = Input("video", path, await core.facts(path))
    else:
        assert video_url is not None
        video = await core.media(rules, url=video_url)
        url = video_url
    return video, {"id": video_id or "", "url": url, "duration": f"{video.seconds:.3f}"}


# -- lip-sync ---------------------------------------------------------------------------------


@kling
async def create_lip_sync(request: Request, core: Core) -> Response:
    body = await json_body(request)
    inp = checks.lip_sync_input(body)
    callback_url = optional_str(body, "callback_url")
    external = optional_str(body, "external_task_id")
    refused, number = refuse_by_fault(core)
    if refused is not None:
        return refused
    endpoint = TEXT2VIDEO if inp["mode"] == "text2video" else AUDIO2VIDEO
    assert endpoint.video is not None
    video, parent = await video_input(core, endpoint.video, inp["video_url"], inp["video_id"])
    seconds = video.seconds
    work: dict[str, Any] = {"kind": "mux", "video": str(video.path), "seconds": seconds}
    if inp["mode"] == "text2video":
        core.judge(TEXT2VIDEO, video, text=inp)
        work["tone"] = tone_for(inp["text"], inp["voice_id"], inp["voice_speed"], seconds)
    else:
        audio = await core.media(
            limits.LIPSYNC_AUDIO, url=inp.get("audio_url"), base64_text=inp.get("audio_file")
        )
        core.judge(AUDIO2VIDEO, video, audio)
        work["audio"] = str(audio.path)
    params = {k: v for k, v in inp.items() if v is not None and k != "audio_file"}
    task = new_task(
        core,
        "lip-sync",
        params=params,
        work=work,
        external_task_id=external,
        callback_url=callback_url,
        parent_video=parent,
    )
    return commit(core, task, number)


def _get(endpoint: str, *, by_external: bool = False) -> Callable[[Request], Awaitable[Response]]:
    @kling
    async def get_task(request: Request, core: Core) -> Response:
        task_id = request.path_params["task_id"]
        with core.store.lock:
            task = core.store.tasks.get(task_id)
            if (task is None or task.endpoint != endpoint) and by_external:
                found = core.store.external.get((endpoint, task_id))
                task = core.store.tasks.get(found) if found else None
            if task is None or task.endpoint != endpoint or task.provider != "kling":
                return kling_error(1203, f"task {task_id} does not exist")
            data = core.kling_object(task)
        return kling_ok(data)

    get_task.__name__ = f"get_{endpoint.replace('-', '_')}"
    return get_task


def _page_param(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise Invalid(f"{name} must be an integer") from exc
    if not 1 <= value <= high:
        raise Invalid(f"{name} must be between 1 and {high}")
    return value


def _list(endpoint: str) -> Callable[[Request], Awaitable[Response]]:
    @kling
    async def list_tasks(request: Request, core: Core) -> Response:
        page = _page_param(request, "pageNum", 1, 1000)
        size = _page_param(request, "pageSize", 30, 500)
        with core.store.lock:
            tasks = core.store.listing("kling", endpoint)[(page - 1) * size : page * size]
            data = [core.kling_object(t) for t in tasks]
        return kling_ok(data)

    list_tasks.__name__ = f"list_{endpoint.replace('-', '_')}"
    return list_tasks


# -- image2video ------------------------------------------------------------------------------


@kling
async def create_image2video(request: Request, core: Core) -> Response:
    body = await json_body(request)
    image = optional_str(body, "image")
    if not image:
        raise Invalid("image is required", kind="missing")
    prompt = optional_str(body, "prompt")
    negative_prompt = optional_str(body, "negative_prompt")
    mode = body.get("mode", "std")
    if mode not in ("std", "pro"):
        raise Invalid("mode must be std or pro")
    duration = str(body.get("duration", "5"))
    if duration not in ("5", "10"):
        raise Invalid("duration must be 5 or 10")
    if "cfg_scale" in body:
        checks.number(body["cfg_scale"], "cfg_scale", 0, 1)
    model = optional_str(body, "model_name") or "kling-v1"
    external = optional_str(body, "external_task_id")
    callback_url = optional_str(body, "callback_url")
    if external is not None:
        with core.store.lock:
            if ("image2video", external) in core.store.external:
                raise Invalid("external_task_id is already used by another task")
    refused, number = refuse_by_fault(core)
    if refused is not None:
        return refused
    is_url = image.startswith(("http://", "https://"))
    picture = await core.media(
        limits.IMAGE, url=image if is_url else None, base64_text=None if is_url else image
    )
    core.judge(IMAGE2VIDEO, picture, prompts={"prompt": prompt, "negative_prompt": negative_prompt})
    params: dict[str, Any] = {
        k: body[k] for k in ("prompt", "negative_prompt", "cfg_scale") if k in body
    }
    params.update(model_name=model, mode=mode, duration=duration)
    work = {"kind": "still", "image": str(picture.path), "seconds": float(duration)}
    task = new_task(
        core,
        "image2video",
        params=params,
        work=work,
        external_task_id=external,
        callback_url=callback_url,
    )
    return commit(core, task, number)


# -- identify-face and advanced lip-sync -------------------------------------------------------


@kling
async def identify_face(request: Request, core: Core) -> Response:
    body = await json_body(request)
    video_url, video_id = optional_str(body, "video_url"), optional_str(body, "video_id")
    if bool(video_url) == bool(video_id):
        raise Invalid("exactly one of video_url and video_id is required")
    video, parent = await video_input(core, limits.ADVANCED_VIDEO, video_url, video_id)
    core.judge(IDENTIFY_FACE, video)
    path = video.path
    duration_ms = int(video.seconds * 1000)
    with core.store.lock:
        session_id = core.store.new_kling_id()
    faces = await _faces_of(core, video, session_id, duration_ms)
    with core.store.lock:
        core.store.sessions[session_id] = Session(
            id=session_id,
            video_path=path,
            video_url=parent["url"],
            duration_ms=duration_ms,
            has_audio=isinstance(video.facts, MediaFacts) and video.facts.audio is not None,
            faces=faces,
            expires_at=core.clock.now() + SESSION_SECONDS,
        )
    return kling_ok({"session_id": session_id, "final_unique_id": session_id, "face_data": faces})


async def _faces_of(
    core: Core, video: Input, session_id: str, duration_ms: int
) -> list[dict[str, Any]]:
    """face_data: every face found in the clip with its span (`_faces.find_faces`), or one face
    for the whole video when the vision extra is absent."""
    path = video.path
    stream = video.facts.video if isinstance(video.facts, MediaFacts) else None
    width = (stream.width or 0) if stream is not None else 0
    height = (stream.height or 0) if stream is not None else 0
    tracks = await asyncio.to_thread(find_faces, path, width, height, duration_ms / 1000)
    if not tracks:
        frame = core.results / f"face-{session_id}.jpg"
        await asyncio.to_thread(extract_frame, path, frame, at_seconds=duration_ms / 2000)
        url = core.serve(f"results/{frame.name}", frame)
        return [{"face_id": "0", "face_image": url, "start_time": 0, "end_time": duration_ms}]
    faces: list[dict[str, Any]] = []
    for number, track in enumerate(tracks):
        at, box = track.middle()
        frame = core.results / f"face-{session_id}-{number}.jpg"
        await asyncio.to_thread(extract_frame, path, frame, at_seconds=at, crop=box)
        faces.append(
            {
                "face_id": str(number),
                "face_image": core.serve(f"results/{frame.name}", frame),
                "start_time": round(track.start_s * 1000),
                "end_time": min(duration_ms, round(track.end_s * 1000)),
            }
        )
    return faces


def _ms(choice: dict[str, Any], key: str) -> int:
    value = choice.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(f"face_choose[0].{key} must be a whole number of milliseconds >= 0")
    return value


@kling
async def create_advanced(request: Request, core: Core) -> Response:
    body = await json_body(request)
    session_id = optional_str(body, "session_id")
    if not session_id:
        raise Invalid("session_id is required", kind="missing")
    with core.store.lock:
        session = core.store.sessions.get(session_id)
    if session is None or session.expires_at < core.clock.now():
        raise Invalid("session_id is unknown or has expired (sessions last 24 h)")
    choices = body.get("face_choose")
    if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], dict):
        raise Invalid("face_choose must list exactly one face")
    choice = choices[0]
    face = next((f for f in session.faces if f["face_id"] == str(choice.get("face_id"))), None)
    if face is None:
        raise Invalid("face_choose[0].face_id is not a face of this session")
    sound = choice.get("sound_file")
    if choice.get("audio_id") and not sound:
        raise Invalid("face_choose[0].audio_id does not name an audio of this account")
    if not isinstance(sound, str) or not sound:
        raise Invalid("face_choose[0].sound_file or audio_id is required", kind="missing")
    start, end, insert = (
        _ms(choice, k) for k in ("sound_start_time", "sound_end_time", "sound_insert_time")
    )
    volume = checks.number(choice.get("sound_volume", 1), "sound_volume", 0, 2)
    original = checks.number(choice.get("original_audio_volume", 1), "original_audio_volume", 0, 2)
    external = optional_str(body, "external_task_id")
    callback_url = optional_str(body, "callback_url")
    refused, number = refuse_by_fault(core)
    if refused is not None:
        return refused
    is_url = sound.startswith(("http://", "https://"))
    audio = await core.media(
        limits.ADVANCED_AUDIO,
        url=sound if is_url else None,
        base64_text=None if is_url else sound,
    )
    core.judge(ADVANCED, audio)
    audio_ms = int(audio.seconds * 1000)
    if not start < end <= audio_ms + 50:
        raise Invalid("sound_start_time/sound_end_time must cut a span inside the audio")
    length = end - start
    if insert + length > session.duration_ms + 50:
        raise Invalid("the inserted audio must stay inside the video")
    overlap = min(insert + length, face["end_time"]) - max(insert, face["start_time"])
    if overlap < 2000:
        raise Invalid("the inserted audio must overlap the face's time window by at least 2 s")
    work = {
        "kind": "advanced",
        "video": str(session.video_path),
        "audio": str(audio.path),
        "start_ms": start,
        "end_ms": end,
        "insert_ms": insert,
        "volume": volume,
        "original_volume": original,
        "video_has_audio": session.has_audio,
        "seconds": session.duration_ms / 1000,
    }
    params = {
        "session_id": session_id,
        "face_id": face["face_id"],
        "sound_start_time": start,
        "sound_end_time": end,
        "sound_insert_time": insert,
        "sound_volume": volume,
        "original_audio_volume": original,
    }
    task = new_task(
        core,
        "advanced-lip-sync",
        params=params,
        work=work,
        external_task_id=external,
        callback_url=callback_url,
        parent_video={
            "id": "",
            "url": session.video_url,
            "duration": f"{session.duration_ms / 1000:.3f}",
        },
    )
    return commit(core, task, number)


def routes() -> list[Route]:
    return [
        Route("/v1/videos/lip-sync", create_lip_sync, methods=["POST"]),
        Route("/v1/videos/lip-sync", _list("lip-sync"), methods=["GET"]),
        Route("/v1/videos/lip-sync/{task_id}", _get("lip-sync"), methods=["GET"]),
        Route("/v1/videos/image2video", create_image2video, methods=["POST"]),
        Route("/v1/videos/image2video", _list("image2video"), methods=["GET"]),
        Route(
            "/v1/videos/image2video/{task_id}",
            _get("image2video", by_external=True),
            methods=["GET"],
        ),
        Route("/v1/videos/identify-face", identify_face, methods=["POST"]),
        Route("/v1/videos/advanced-lip-sync", create_advanced, methods=["POST"]),
        Route("/v1/videos/advanced-lip-sync", _list("advanced-lip-sync"), methods=["GET"]),
        Route(
            "/v1/videos/advanced-lip-sync/{task_id}",
            _get("advanced-lip-sync", by_external=True),
            methods=["GET"],
        ),
    ]
