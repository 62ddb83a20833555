"""Kling requests as sans-I/O operations: wire bodies, endpoints, and create recovery.

A create is paid. When it fails in a way that may have started a task (the connection dropped or
timed out after sending, or the server answered 5xx), :meth:`KlingCore.create` looks for the task
before deciding anything:

1. Every create carries an ``external_task_id`` (ours, unless the caller gave one). Where the
   endpoint keeps it and can be queried by it (image2video), the task is fetched by that id.
2. Otherwise (lip-sync, where the official table does not list the field; advanced lip-sync,
   which keeps it but documents no query by it) the recent tasks are listed and compared: the same
   external id when the listing shows one, else the same inputs (video, mode, text, voice, audio)
   and created after the call started.
3. One match: that task is returned, as if the create had answered. Several matches: an error
   that lists them. None: for an endpoint whose external id is unique per account the create is
   sent again with the same external id (the provider refuses a duplicate, so no second task can
   start); for lip-sync it is sent again only when the provider itself answered (5xx: it finished
   handling the request and started nothing we can see). After a dropped connection or a timeout
   with nothing found the error says the task may still exist: never two paid tasks for one call.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from preflight.client._auth import KlingAuth
from preflight.client._core import AmbiguousCreateError, Core, Op, Pause
from preflight.client._policy import Failure, RetryPolicy
from preflight.client.models import FaceSession, Task, TaskKind
from preflight.model.errors import APIError, InvalidRequestError

__all__ = ["DEFAULT_KLING_BASE_URL", "KlingCore", "lip_sync_body"]

log = logging.getLogger("preflight.client")

DEFAULT_KLING_BASE_URL = "https://api-singapore.klingai.com"
DEFAULT_VOICE_LANGUAGE = "en"  # always sent; see lip_sync_body
DEFAULT_VOICE_SPEED = 1.0
RECOVERY_WINDOW = 120.0  # seconds before the call started that a matching task may carry
RECOVERY_PAGE_SIZE = 100
RECOVERY_MAX_PAGES = 5
SETTLE_DELAY = 1.0  # seconds to wait before a second look for a task that may still appear
EXPIRED_TOKEN = 1004
CLAIMED_MEMORY = 10_000  # recent task ids remembered per client


@dataclass(frozen=True, slots=True)
class Endpoint:
    kind: TaskKind
    path: str
    query_by_external_id: bool  # GET {path}/{external_task_id} finds the task
    unique_external_id: bool  # the provider refuses a second task with the same external id


ENDPOINTS: Mapping[TaskKind, Endpoint] = {
    TaskKind.LIP_SYNC: Endpoint(TaskKind.LIP_SYNC, "/v1/videos/lip-sync", False, False),
    TaskKind.IMAGE2VIDEO: Endpoint(TaskKind.IMAGE2VIDEO, "/v1/videos/image2video", True, True),
    TaskKind.ADVANCED_LIP_SYNC: Endpoint(
        TaskKind.ADVANCED_LIP_SYNC, "/v1/videos/advanced-lip-sync", False, True
    ),
}


def new_external_task_id() -> str:
    return f"pf-{uuid.uuid4().hex}"


def _reject(message: str) -> InvalidRequestError:
    return InvalidRequestError(f"rejected before sending: {message}")


def _file_base64(path: str | os.PathLike[str]) -> str:
    """A local file as raw base64 (no ``data:`` prefix), as Kling wants it."""
    try:
        return base64.b64encode(Path(path).read_bytes()).decode("ascii")
    except OSError as exc:
        raise _reject(f"cannot read {os.fspath(path)!r}: {exc.strerror or exc}") from exc


def round_speed(speed: float) -> float:
    """One decimal, half up (Kling rounds extra precision; we send what it will use)."""
    return float(Decimal(str(speed)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def lip_sync_body(
    *,
    video_url: str | None = None,
    video_id: str | None = None,
    text: str | None = None,
    voice_id: str | None = None,
    voice_language: str | None = None,
    voice_speed: float | None = None,
    audio_url: str | None = None,
    audio_file: str | os.PathLike[str] | None = None,
    callback_url: str | None = None,
    external_task_id: str | None = None,
) -> dict[str, Any]:
    """The documented wire body of ``POST /v1/videos/lip-sync``; wrong combinations raise.

    Parameters sit inside ``input``; ``callback_url`` and ``external_task_id`` sit outside.
    ``mode`` and ``audio_type`` are derived from what was given. ``voice_language`` is always
    sent because the sources disagree on its default (Kling's Chinese document: zh; WaveSpeed: en):
    we default to "en", WaveSpeed's documented default, so a job means the same on both routes.
    """
    if bool(video_url) == bool(video_id):
        raise _reject("give exactly one of video_url and video_id")
    has_audio = audio_url is not None or audio_file is not None
    if text is not None and has_audio:
        raise _reject("give text (with voice_id) or audio, not both")
    if audio_url is not None and audio_file is not None:
        raise _reject("give one of audio_url and audio_file, not both")
    if text is None and not has_audio:
        raise _reject("give text with voice_id, or audio_url, or audio_file")
    payload: dict[str, Any] = {"video_url": video_url} if video_url else {"video_id": video_id}
    if text is not None:
        if not text:
            raise _reject("text is empty")
        if not voice_id:
            raise _reject("text needs a voice_id")
        payload.update(
            mode="text2video",
            text=text,
            voice_id=voice_id,
            voice_language=voice_language or DEFAULT_VOICE_LANGUAGE,
            voice_speed=round_speed(DEFAULT_VOICE_SPEED if voice_speed is None else voice_speed),
        )
    else:
        if voice_id is not None or voice_language is not None or voice_speed is not None:
            raise _reject("voice_id, voice_language and voice_speed go with text, not audio")
        payload["mode"] = "audio2video"
        if audio_url is not None:
            payload.update(audio_type="url", audio_url=audio_url)
        else:
            assert audio_file is not None
            payload.update(audio_type="file", audio_file=_file_base64(audio_file))
    body: dict[str, Any] = {"input": payload}
    if callback_url:
        body["callback_url"] = callback_url
    body["external_task_id"] = external_task_id or new_external_task_id()
    return body


def media_field(url: str | None, file: str | os.PathLike[str] | None, name: str) -> str:
    """A URL as is, or a local file as raw base64; exactly one must be given."""
    if (url is None) == (file is None):
        raise _reject(f"give exactly one of {name}_url and {name}_file")
    return url if url is not None else _file_base64(file)  # type: ignore[arg-type]


class KlingCore(Core):
    """Kling's envelope (``code`` 0 = success), its JWT, and its operations."""

    provider = "kling"
    name = "Kling"
    success_code = 0

    def __init__(
        self,
        auth: KlingAuth,
        base_url: str,
        *,
        policy: RetryPolicy,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(base_url, policy=policy, clock=clock)
        self.auth = auth
        # task ids this client already handed out from a create (never claimed twice); bounded
        self._claimed: collections.OrderedDict[str, None] = collections.OrderedDict()

    def _auth_headers(self) -> dict[str, str]:
        return self.auth.headers()

    def _renew_auth(self, failure: Failure) -> bool:
        if failure.code == EXPIRED_TOKEN:
            self.auth.invalidate()
            return True
        return False

    # --- queries -------------------------------------------------------------------------------
    @staticmethod
    def endpoint(kind: TaskKind) -> Endpoint:
        if kind not in ENDPOINTS:
            raise InvalidRequestError(f"rejected before sending: Kling has no {kind.value} tasks")
        return ENDPOINTS[kind]

    def get(self, kind: TaskKind, task_id: str) -> Op[Task]:
        if not task_id or "/" in task_id:
            raise InvalidRequestError(f"rejected before sending: bad task id {task_id!r}")
        data = yield from self.request("GET", f"{self.endpoint(kind).path}/{task_id}")
        return Task.from_kling(_mapping(data), kind)

    def refresh(self, task: Task) -> Op[Task]:
        return self.get(task.kind, task.id)

    def list(self, kind: TaskKind, page: int = 1, page_size: int = 30) -> Op[list[Task]]:
        params = {"pageNum": page, "pageSize": page_size}
        data = yield from self.request("GET", self.endpoint(kind).path, params=params)
        items = data if isinstance(data, list) else []
        return [Task.from_kling(item, kind) for item in items if isinstance(item, Mapping)]

    def identify_face(self, body: dict[str, Any]) -> Op[FaceSession]:
        data = yield from self.request("POST", "/v1/videos/identify-face", json=body)
        return FaceSession.from_kling(_mapping(data))

    # --- creates -------------------------------------------------------------------------------
    def create(self, kind: TaskKind, body: dict[str, Any]) -> Op[Task]:
        """Create a task; after an ambiguous failure look for it first (see the module doc)."""
        endpoint = self.endpoint(kind)
        external_id = str(body["external_task_id"])
        started = self.clock()
        for _round in range(2):
            try:
                data = yield from self.request("POST", endpoint.path, json=body, create=True)
            except AmbiguousCreateError as ambiguous:
                log.warning(
                    "%s create ended ambiguously (%s); looking for the task",
                    kind.value,
                    ambiguous.error,
                )
                found = yield from self._recover(endpoint, body, external_id, started)
                if found is not None:
                    return self._claim(found)
                answered = not ambiguous.failure.is_transport
                if not (endpoint.unique_external_id or answered):
                    raise type(ambiguous.error)(
                        f"{ambiguous.error.message}; the create may have started a task that "
                        f"could not be found yet (external_task_id {external_id}): it was not "
                        "sent again, to avoid paying twice. Check `preflight tasks` before "
                        "retrying.",
                        code=ambiguous.error.code,
                        http_status=ambiguous.error.http_status,
                        request_id=ambiguous.error.request_id,
                    ) from ambiguous.error
                log.info(
                    "%s: no task found; sending the create once more, same external id", kind.value
                )
                continue
            except InvalidRequestError:
                if _round == 0:
                    raise
                # the second try may be refused as a duplicate external id: the first one landed
                found = yield from self._recover(endpoint, body, external_id, started)
                if found is None:
                    raise
                return self._claim(found)
            return self._claim(Task.from_kling(_mapping(data), kind))
        raise APIError(
            f"Kling: the {kind.value} create could not be confirmed "
            f"(external_task_id {external_id})"
        )

    def _claim(self, task: Task) -> Task:
        self._claimed[task.id] = None
        while len(self._claimed) > CLAIMED_MEMORY:
            self._claimed.popitem(last=False)
        return task

    def _recover(
        self, endpoint: Endpoint, body: Mapping[str, Any], external_id: str, started: float
    ) -> Op[Task | None]:
        """The task this create started, if one can be found; None when there is surely none."""
        for look in range(2):
            if look:
                yield Pause(SETTLE_DELAY)
            if endpoint.query_by_external_id:
                try:
                    task = yield from self.get(endpoint.kind, external_id)
                except InvalidRequestError:  # 1203: no such task
                    task = None
                if task is not None:
                    return task
            else:
                found = yield from self._search(endpoint, body, external_id, started)
                if found is not None:
                    return found
        return None

    def _search(
        self, endpoint: Endpoint, body: Mapping[str, Any], external_id: str, started: float
    ) -> Op[Task | None]:
        """List recent tasks and pick the one this create started."""
        since_ms = (started - RECOVERY_WINDOW) * 1000.0
        exact: list[Task] = []
        similar: list[Task] = []
        for page in range(1, RECOVERY_MAX_PAGES + 1):
            tasks = yield from self.list(endpoint.kind, page, RECOVERY_PAGE_SIZE)
            for task in tasks:
                if task.id in self._claimed or not _recent(task, since_ms):
                    continue
                if task.external_task_id is not None:
                    if task.external_task_id == external_id:
                        exact.append(task)
                elif _same_inputs(task, body):
                    similar.append(task)
            if len(tasks) < RECOVERY_PAGE_SIZE or not any(_recent(t, since_ms) for t in tasks):
                break
        if len(exact) == 1:
            return exact[0]
        candidates = exact or similar
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            ids = ", ".join(t.id for t in candidates[:10])
            raise APIError(
                f"Kling: the {endpoint.kind.value} create may have started a task, and "
                f"{len(candidates)} recent tasks match it ({ids}): not sent again"
            )
        return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _recent(task: Task, since_ms: float) -> bool:
    return task.created_at is None or task.created_at.timestamp() * 1000.0 >= since_ms


def audio_fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode("ascii", "replace")).hexdigest()


def _same_inputs(task: Task, body: Mapping[str, Any]) -> bool:
    """Whether what the provider echoes of a task agrees with what we sent (absent = unknown)."""
    sent = _mapping(body.get("input")) or body
    echoed: dict[str, Any] = {}
    info = _mapping(task.raw.get("task_info"))
    parent = _mapping(info.get("parent_video"))
    if parent.get("url"):
        echoed["video_url"] = parent["url"]
    if parent.get("id"):
        echoed["video_id"] = parent["id"]
    for source in (task.raw, info, _mapping(info.get("input")), _mapping(task.raw.get("input"))):
        for key in (
            "video_url",
            "video_id",
            "mode",
            "text",
            "voice_id",
            "voice_language",
            "audio_type",
            "audio_url",
            "session_id",
        ):
            if key in source and source[key] is not None:
                echoed.setdefault(key, source[key])
        if source.get("audio_file"):
            echoed.setdefault("audio_sha256", audio_fingerprint(str(source["audio_file"])))
        if source.get("audio_sha256"):
            echoed["audio_sha256"] = source["audio_sha256"]
    mine = dict(sent)
    if "audio_file" in mine:
        mine["audio_sha256"] = audio_fingerprint(str(mine["audio_file"]))
    compared = [k for k in echoed if k in mine]
    if not compared:
        return False  # nothing to compare: a stranger's task is not ours by default
    return all(str(echoed[k]) == str(mine[k]) for k in compared)
