"""Kling's advanced lip-sync as a `Provider`: identify-face, then one face's create.

`AdvancedKling` wraps the `KlingProvider` a submitter already has (same client, same hosting and
inline rules) and changes what a job's paid call is: ``POST /v1/videos/advanced-lip-sync`` with
the session and face chosen by the face step (`preflight.submitting.steps.face`), found again
after a crash by its ``external_task_id`` in the task list, waited for on its own endpoint. The
job walks the same state table as a plain lip-sync; its ledger ``endpoint`` is
``advanced-lip-sync``, which is how `preflight status` and `resume` know the task's kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from preflight.model.errors import ConfigError
from preflight.submitting.faces import FaceSpan
from preflight.submitting.model import SubmitRequest
from preflight.submitting.providers import FIND_WINDOW, Media, Provider, _find_by_listing

if TYPE_CHECKING:
    from preflight.client.models import Task
    from preflight.submitting.hosting import Host

__all__ = ["ENDPOINT", "AdvancedKling", "FaceSession", "advanced_provider"]

ENDPOINT = "advanced-lip-sync"


@dataclass(frozen=True, slots=True)
class FaceSession:
    """identify-face's answer: the session (valid 24 h) and the faces, in its order."""

    session_id: str
    faces: tuple[FaceSpan, ...]


def advanced_provider(provider: Provider) -> AdvancedKling:
    """The advanced lip-sync adapter over ``provider`` (Kling's; ConfigError for another)."""
    client = getattr(provider, "client", None)
    if client is None or not hasattr(client, "create_advanced_lip_sync"):
        raise ConfigError(f"{provider.name} has no advanced lip-sync")
    return AdvancedKling(provider)


class AdvancedKling:
    """Advanced lip-sync through the client of a `KlingProvider`."""

    can_find = True

    def __init__(self, base: Provider) -> None:
        self.base = base
        self.name = base.name
        self.client: Any = base.client  # type: ignore[attr-defined]

    def endpoint(self, mode: str) -> str:
        return ENDPOINT

    def inline(self, role: str) -> bool:
        return self.base.inline(role)

    def host(self) -> Host | None:
        return self.base.host()

    def get_task(self, task_id: str, kind: str = ENDPOINT) -> Task:
        return self.base.get_task(task_id, kind)

    def list_tasks(self, kind: str, *, page: int, page_size: int) -> list[Task]:
        return self.base.list_tasks(kind, page=page, page_size=page_size)

    def identify(self, video_url: str) -> FaceSession:
        """The faces of the video at ``video_url`` (free: nothing is created)."""
        session = self.client.identify_face(video_url=video_url)
        faces = tuple(
            FaceSpan(
                face_id=f.face_id,
                start_ms=f.start_time_ms or 0,
                end_ms=f.end_time_ms or 0,
                image=f.face_image,
            )
            for f in session.faces
        )
        return FaceSession(session.session_id, faces)

    def create(
        self, request: SubmitRequest, media: Mapping[str, Media], external_task_id: str
    ) -> Task:
        """The paid call, for the face and window the face step resolved into ``request``."""
        choice = request.advanced
        session = choice.session_id if choice is not None else None
        if choice is None or choice.face_id is None or session is None:
            raise ConfigError("advanced lip-sync: no face was chosen before the create (a bug)")
        audio = media["audio"]
        optional = {
            "sound_volume": choice.sound_volume,
            "original_audio_volume": choice.original_audio_volume,
            "callback_url": request.callback_url,
        }
        task: Task = self.client.create_advanced_lip_sync(
            session_id=session,
            face_id=choice.face_id,
            audio_url=audio.url,
            audio_file=audio.file,
            sound_start_time=choice.sound_start or 0,
            sound_end_time=choice.sound_end or 0,
            sound_insert_time=choice.sound_insert or 0,
            external_task_id=external_task_id,
            **{k: v for k, v in optional.items() if v is not None},
        )
        return task

    def find(
        self,
        request: SubmitRequest,
        media: Mapping[str, Media],
        external_task_id: str,
        since: float,
    ) -> Task | None:
        """The task an earlier run created: by our external id in the advanced task list (the
        endpoint documents both), else one made from the same video since ``since``."""

        def page(*, page: int, page_size: int) -> list[Task]:
            return self.list_tasks(ENDPOINT, page=page, page_size=page_size)

        return _find_by_listing(page, request, media, external_task_id, since - FIND_WINDOW)

    def wait(
        self, task_id: str, *, timeout: float | None, on_update: Callable[[Task], object]
    ) -> Task:
        from preflight.client.models import Task, TaskKind, TaskStatus

        start = Task(
            id=task_id, status=TaskStatus.UNKNOWN, provider="kling", kind=TaskKind.ADVANCED_LIP_SYNC
        )
        waited: Task = self.client.wait(start, timeout=timeout, on_update=on_update)
        return waited

    def close(self) -> None:
        self.base.close()
