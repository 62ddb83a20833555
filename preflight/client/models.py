"""Typed results shared by both providers: a task, its status, its result videos.

Both providers' task objects are read by :meth:`Task.from_kling` / :meth:`Task.from_wavespeed`.
Fields that are missing stay ``None``; fields we do not know are kept in ``raw`` and otherwise
ignored, so a provider adding fields breaks nothing. Task ids are strings (Kling's are long
numbers that lose digits as floats).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Face", "FaceSession", "Task", "TaskKind", "TaskStatus", "Video"]


class TaskStatus(enum.StrEnum):
    """One status set for both providers."""

    SUBMITTED = "submitted"  # Kling `submitted`, WaveSpeed `created`
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"  # Kling `succeed`, WaveSpeed `completed`
    FAILED = "failed"
    UNKNOWN = "unknown"  # a status this version does not know: treated as still running

    @property
    def is_terminal(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED)

    @classmethod
    def from_provider(cls, value: object) -> TaskStatus:
        return _STATUS_NAMES.get(str(value).strip().lower(), cls.UNKNOWN)


_STATUS_NAMES: dict[str, TaskStatus] = {
    "submitted": TaskStatus.SUBMITTED,
    "created": TaskStatus.SUBMITTED,
    "pending": TaskStatus.SUBMITTED,
    "queued": TaskStatus.SUBMITTED,
    "processing": TaskStatus.PROCESSING,
    "succeed": TaskStatus.SUCCEEDED,
    "succeeded": TaskStatus.SUCCEEDED,
    "completed": TaskStatus.SUCCEEDED,
    "failed": TaskStatus.FAILED,
}


class TaskKind(enum.StrEnum):
    """Which endpoint a task belongs to (where to query it)."""

    LIP_SYNC = "lip-sync"
    IMAGE2VIDEO = "image2video"
    ADVANCED_LIP_SYNC = "advanced-lip-sync"
    WAVESPEED = "wavespeed"
    FAL = "fal"  # a request in fal's queue


@dataclass(frozen=True, slots=True)
class Video:
    """One result (or input) video: ``duration`` in seconds when the provider gave one."""

    url: str
    id: str | None = None
    duration: float | None = None


@dataclass(frozen=True, slots=True)
class Task:
    """A provider task. ``raw`` is the provider's object as received (unknown fields included)."""

    id: str
    status: TaskStatus
    provider: str  # "kling" | "wavespeed"
    kind: TaskKind
    status_message: str | None = None
    videos: tuple[Video, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    external_task_id: str | None = None
    model: str | None = None
    cost_units: float | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def video_url(self) -> str | None:
        """The first result video's URL, once there is one."""
        return self.videos[0].url if self.videos else None

    @classmethod
    def from_kling(cls, data: Mapping[str, Any], kind: TaskKind = TaskKind.LIP_SYNC) -> Task:
        result = _mapping(data.get("task_result"))
        info = _mapping(data.get("task_info"))
        videos = tuple(
            Video(
                url=str(v["url"]), id=_str_or_none(v.get("id")), duration=_float(v.get("duration"))
            )
            for v in result.get("videos") or ()
            if isinstance(v, Mapping) and v.get("url")
        )
        units = data.get("final_unit_deduction", result.get("final_unit_deduction"))
        return cls(
            id=str(data.get("task_id", "")),
            status=TaskStatus.from_provider(data.get("task_status", "")),
            provider="kling",
            kind=kind,
            status_message=_str_or_none(data.get("task_status_msg")) or None,
            videos=videos,
            created_at=_timestamp(data.get("created_at")),
            updated_at=_timestamp(data.get("updated_at")),
            external_task_id=_str_or_none(
                info.get("external_task_id", data.get("external_task_id"))
            ),
            cost_units=_float(units),
            raw=dict(data),
        )

    @classmethod
    def from_wavespeed(cls, data: Mapping[str, Any]) -> Task:
        outputs = data.get("outputs") or ()
        videos = tuple(Video(url=str(u)) for u in outputs if isinstance(u, str) and u)
        error = data.get("error")
        return cls(
            id=str(data.get("id", "")),
            status=TaskStatus.from_provider(data.get("status", "")),
            provider="wavespeed",
            kind=TaskKind.WAVESPEED,
            status_message=str(error) if error else None,
            videos=videos,
            created_at=_timestamp(data.get("created_at")),
            updated_at=_timestamp(data.get("updated_at")),
            model=_str_or_none(data.get("model")),
            cost_units=_float(data.get("cost", data.get("credits"))),
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class Face:
    """A face Kling found in a video: its window in milliseconds."""

    face_id: str
    start_time_ms: int | None = None
    end_time_ms: int | None = None
    face_image: str | None = None


@dataclass(frozen=True, slots=True)
class FaceSession:
    """The answer of ``identify_face``: a session (valid 24 h) and the faces found."""

    session_id: str
    faces: tuple[Face, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_kling(cls, data: Mapping[str, Any]) -> FaceSession:
        faces = tuple(
            Face(
                face_id=str(f.get("face_id", "")),
                start_time_ms=_int(f.get("start_time")),
                end_time_ms=_int(f.get("end_time")),
                face_image=_str_or_none(f.get("face_image")),
            )
            for f in data.get("face_data") or ()
            if isinstance(f, Mapping)
        )
        return cls(session_id=str(data.get("session_id", "")), faces=faces, raw=dict(data))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _float(value: Any) -> float | None:
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def _timestamp(value: Any) -> datetime | None:
    """Kling: epoch milliseconds (number or numeric string). WaveSpeed: an ISO 8601 string."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    number = _float(value)
    if number is not None:
        seconds = number / 1000.0 if number > 1e11 else number
        return datetime.fromtimestamp(seconds, tz=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
