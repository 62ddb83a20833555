"""The sandbox's memory: tasks, face sessions and served files, behind one lock."""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["OPEN", "SandboxTask", "Session", "Store", "Task", "UploadTicket"]

OPEN = frozenset({"submitted", "processing"})
DONE = frozenset({"succeed", "failed"})


@dataclass(slots=True)
class Task:
    """One task, mutated only under ``Store.lock``. Status names are Kling's."""

    id: str
    provider: str  # "kling" | "wavespeed" | "fal"
    endpoint: str  # "lip-sync", "image2video", "advanced-lip-sync", or a WaveSpeed/fal model
    params: dict[str, Any]  # what the request asked for, as the provider would echo it
    work: dict[str, Any]  # how to make the result (local paths, tone spec ...)
    created_at: int  # ms on the sandbox clock
    updated_at: int
    status: str = "submitted"
    status_msg: str = ""
    external_task_id: str | None = None
    callback_url: str | None = None
    webhook_url: str | None = None
    fail: str | None = None  # decided at create: the reason it will fail
    processing_at: float = 0.0  # sandbox-clock seconds
    done_at: float | None = None  # earliest end, set when processing starts
    result_ready: bool = False
    result_error: str | None = None
    result_url: str | None = None
    result_id: str | None = None
    result_duration: float | None = None
    parent_video: dict[str, str] | None = None
    cancelled: bool = False  # fal: cancelled through its queue API


@dataclass(frozen=True, slots=True)
class SandboxTask:
    """A read-only snapshot of a task, for tests and `/_sandbox/tasks`."""

    id: str
    provider: str
    endpoint: str
    status: str
    status_msg: str
    external_task_id: str | None
    created_at: int
    updated_at: int
    result_url: str | None
    params: dict[str, Any] = field(compare=False)


@dataclass(slots=True)
class Session:
    """An identify-face session (valid 24 h)."""

    id: str
    video_path: Path
    video_url: str
    duration_ms: int
    has_audio: bool
    faces: list[dict[str, Any]]
    expires_at: float  # sandbox-clock seconds


@dataclass(slots=True)
class UploadTicket:
    """A WaveSpeed upload instruction (``POST /api/v3/media/uploads``): what the PUT must carry."""

    token: str  # the opaque part of the PUT URL
    name: str  # served name of the file once stored (``uploads/<id>/<filename>``)
    size: int  # the declared size: a PUT of any other length is refused
    content_type: str | None  # when declared, the PUT must send exactly this Content-Type
    expires_at: float  # sandbox-clock seconds
    stored: bool = False
    refused: list[str] = field(default_factory=list)  # why PUTs were refused, for tests


class Store:
    """Everything the sandbox remembers. Hold ``lock`` (or ``cond``) while touching fields."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.tasks: dict[str, Task] = {}
        self.order: list[str] = []  # creation order
        self.external: dict[tuple[str, str], str] = {}  # (endpoint, external id) -> task id
        self.sessions: dict[str, Session] = {}
        self.files: dict[str, Path] = {}  # served name -> path
        self.tickets: dict[str, UploadTicket] = {}  # upload token -> its instruction
        self.creates = 0  # create requests since the faults were set
        self.created = 0  # tasks created since the faults were set
        self.open = 0
        self.callbacks: list[dict[str, Any]] = []  # deliveries, for tests

    # -- ids ---------------------------------------------------------------------------------
    def new_kling_id(self) -> str:
        """A long numeric string, like Kling's (19 digits)."""
        while True:
            task_id = str(secrets.randbits(62) | (1 << 62))
            if task_id not in self.tasks:
                return task_id

    def new_wavespeed_id(self) -> str:
        while True:
            task_id = uuid.uuid4().hex
            if task_id not in self.tasks:
                return task_id

    def new_fal_id(self) -> str:
        """A dashed UUID, like fal's request ids."""
        while True:
            task_id = str(uuid.uuid4())
            if task_id not in self.tasks:
                return task_id

    # -- tasks -------------------------------------------------------------------------------
    def add(self, task: Task) -> None:
        self.tasks[task.id] = task
        self.order.append(task.id)
        self.open += 1
        if task.external_task_id:
            self.external[(task.endpoint, task.external_task_id)] = task.id
        self.cond.notify_all()

    def set_status(self, task: Task, status: str, msg: str, now_ms: int) -> None:
        if task.status in OPEN and status in DONE:
            self.open -= 1
        task.status = status
        task.status_msg = msg
        task.updated_at = now_ms
        self.cond.notify_all()

    def listing(self, provider: str, endpoint: str) -> list[Task]:
        """Tasks of one endpoint, newest first."""
        return [
            self.tasks[i]
            for i in reversed(self.order)
            if self.tasks[i].provider == provider and self.tasks[i].endpoint == endpoint
        ]

    def open_tasks(self) -> list[Task]:
        return [t for t in self.tasks.values() if t.status in OPEN]

    def snapshot(self, where: Callable[[Task], bool] | None = None) -> list[SandboxTask]:
        return [
            SandboxTask(
                id=t.id,
                provider=t.provider,
                endpoint=t.endpoint,
                status=t.status,
                status_msg=t.status_msg,
                external_task_id=t.external_task_id,
                created_at=t.created_at,
                updated_at=t.updated_at,
                result_url=t.result_url,
                params=dict(t.params),
            )
            for t in (self.tasks[i] for i in self.order)
            if where is None or where(t)
        ]
