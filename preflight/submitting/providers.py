"""What the pipeline needs from a provider, and the adapters over the clients that give it.

The pipeline speaks to a `Provider`: create a lip-sync task from media references, find a task a
dead process may have created, wait, look a task up, and (WaveSpeed, fal) upload.
`KlingProvider`, and `WaveSpeedProvider` and `FalProvider` (both model queues) map that onto
`preflight.client`; which adapter goes with which client, and what each provider can do, is the
registry's table (`preflight.submitting.registry`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from preflight.model.errors import ConfigError
from preflight.submitting.model import SubmitRequest
from preflight.submitting.registry import REGISTRY, make_provider

if TYPE_CHECKING:
    from preflight.client._core import Call
    from preflight.client.models import Task
    from preflight.submitting.hosting import Host

__all__ = [
    "FalProvider",
    "KlingProvider",
    "Media",
    "Provider",
    "WaveSpeedProvider",
    "make_provider",
]

# how far before the recorded create a task found by listing may have been made (clock skew)
FIND_WINDOW = 300.0
FIND_PAGE_SIZE = 100
FRESH_CREATE = 60.0  # a create this recent gets a second look after SETTLE_DELAY
SETTLE_DELAY = 1.0
FIND_MAX_PAGES = 5
WAVESPEED_MODELS = {
    "text": "kwaivgi/kling-lipsync/text-to-video",
    "audio": "kwaivgi/kling-lipsync/audio-to-video",
}
FAL_MODELS = {
    "text": "fal-ai/kling-video/lipsync/text-to-video",
    "audio": "fal-ai/kling-video/lipsync/audio-to-video",
}


@dataclass(frozen=True, slots=True)
class Media:
    """One input as the create sends it: a URL, or a local file sent inline (Kling audio)."""

    url: str | None = None
    file: Path | None = None

    def to_json(self) -> dict[str, str]:
        return {"url": self.url} if self.url is not None else {"file": str(self.file)}

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> Media:
        file = data.get("file")
        return cls(url=data.get("url"), file=Path(file) if file else None)


class Provider(Protocol):
    """A provider as the pipeline sees it.

    An adapter may also offer ``describe(request, media, external_task_id) -> Call``: the
    request `create` would send, built by the client's own code and sent nowhere (what
    `preflight submit --dry-run` prints; `preflight.submitting.dryrun`)."""

    name: str
    can_find: bool  # whether `find` can look up a task a dead process may have created

    def endpoint(self, mode: str) -> str: ...

    def get_task(self, task_id: str, kind: str = "lip-sync") -> Task:
        """One task as the provider reports it now (`preflight status`)."""
        ...

    def list_tasks(self, kind: str, *, page: int, page_size: int) -> list[Task]:
        """One page of recent tasks, newest first (`preflight tasks`; see ``can_list``)."""
        ...

    def inline(self, role: str) -> bool:
        """Whether a local file for ``role`` is sent inline (no URL needed)."""
        ...

    def host(self) -> Host | None:
        """The provider's own upload, if it has one."""
        ...

    def create(
        self, request: SubmitRequest, media: Mapping[str, Media], external_task_id: str
    ) -> Task: ...

    def find(
        self,
        request: SubmitRequest,
        media: Mapping[str, Media],
        external_task_id: str,
        since: float,
    ) -> Task | None: ...

    def wait(
        self, task_id: str, *, timeout: float | None, on_update: Callable[[Task], object]
    ) -> Task: ...

    def close(self) -> None: ...


class KlingProvider:
    """Kling's ``/v1/videos/lip-sync`` through `preflight.client.KlingClient`."""

    name = "kling"
    can_find = True

    def __init__(self, client: Any) -> None:
        self.client = client

    def endpoint(self, mode: str) -> str:
        return "lip-sync"

    def inline(self, role: str) -> bool:
        return role in REGISTRY[self.name].inline

    def host(self) -> Host | None:
        return None

    def get_task(self, task_id: str, kind: str = "lip-sync") -> Task:
        task: Task = self.client.get_task(kind, task_id)
        return task

    def list_tasks(self, kind: str, *, page: int, page_size: int) -> list[Task]:
        return list(self.client.list_tasks(kind, page=page, page_size=page_size))

    def _fields(self, request: SubmitRequest, media: Mapping[str, Media]) -> dict[str, Any]:
        fields: dict[str, Any] = {"video_url": media["video"].url}
        speech = request.speech
        if speech is not None:
            fields.update(speech.fields())
        else:
            audio = media["audio"]
            if audio.url is not None:
                fields["audio_url"] = audio.url
            else:
                fields["audio_file"] = audio.file
        if request.callback_url:
            fields["callback_url"] = request.callback_url
        return fields

    def create(
        self, request: SubmitRequest, media: Mapping[str, Media], external_task_id: str
    ) -> Task:
        fields = self._fields(request, media)
        task: Task = self.client.create_lip_sync(**fields, external_task_id=external_task_id)
        return task

    def describe(
        self, request: SubmitRequest, media: Mapping[str, Media], external_task_id: str
    ) -> Call:
        fields = self._fields(request, media)
        call: Call = self.client.describe_lip_sync(**fields, external_task_id=external_task_id)
        return call

    def find(
        self,
        request: SubmitRequest,
        media: Mapping[str, Media],
        external_task_id: str,
        since: float,
    ) -> Task | None:
        finder = getattr(self.client, "find_lip_sync", None)
        if finder is not None:
            found: Task | None = finder(
                **self._fields(request, media),
                external_task_id=external_task_id,
                since=since - FIND_WINDOW,
            )
            return found
        for look in range(2):
            if look:
                if time.time() - since > FRESH_CREATE:
                    break
                time.sleep(SETTLE_DELAY)  # a task made seconds ago may not be listed yet
            found = _find_by_listing(
                self.client.list_lip_sync, request, media, external_task_id, since - FIND_WINDOW
            )
            if found is not None:
                return found
        return None

    def wait(
        self, task_id: str, *, timeout: float | None, on_update: Callable[[Task], object]
    ) -> Task:
        waited: Task = self.client.wait(task_id, timeout=timeout, on_update=on_update)
        return waited

    def close(self) -> None:
        self.client.close()


class _ModelQueueProvider:
    """A host that runs Kling's lip-sync as named models behind a queue (WaveSpeed, fal): media
    go by URL (the provider's own upload for local files), a submit answers an id, and there is
    neither a listing nor a client-chosen id, so a submit that died before its answer cannot be
    found again (`find` is None; the clients never resend a submit either)."""

    name: str
    title: str
    can_find = False
    models: Mapping[str, str]
    video_field: str
    audio_field: str

    def __init__(self, client: Any) -> None:
        self.client = client

    def endpoint(self, mode: str) -> str:
        return self.models[mode]

    def inline(self, role: str) -> bool:
        return role in REGISTRY[self.name].inline

    def host(self) -> Host | None:
        from preflight.submitting.hosting.provider import ProviderHost

        return ProviderHost(self.client, self.name, self.title)

    def list_tasks(self, kind: str, *, page: int, page_size: int) -> list[Task]:
        raise ConfigError(f"{self.title} has no task listing")

    def _fields(self, request: SubmitRequest, media: Mapping[str, Media]) -> dict[str, Any]:
        fields: dict[str, Any] = {self.video_field: media["video"].url}
        speech = request.speech
        if speech is not None:
            fields.update(speech.fields())
        else:
            fields[self.audio_field] = media["audio"].url
        return fields

    def create(
        self, request: SubmitRequest, media: Mapping[str, Media], external_task_id: str
    ) -> Task:
        fields = self._fields(request, media)
        task: Task = self.client.submit(
            self.endpoint(request.mode), webhook=request.callback_url, **fields
        )
        return task

    def describe(
        self, request: SubmitRequest, media: Mapping[str, Media], external_task_id: str
    ) -> Call:
        fields = self._fields(request, media)
        call: Call = self.client.describe_submit(
            self.endpoint(request.mode), webhook=request.callback_url, **fields
        )
        return call

    def find(
        self,
        request: SubmitRequest,
        media: Mapping[str, Media],
        external_task_id: str,
        since: float,
    ) -> Task | None:
        return None

    def wait(
        self, task_id: str, *, timeout: float | None, on_update: Callable[[Task], object]
    ) -> Task:
        waited: Task = self.client.wait(task_id, timeout=timeout, on_update=on_update)
        return waited

    def close(self) -> None:
        self.client.close()


class WaveSpeedProvider(_ModelQueueProvider):
    """WaveSpeed's Kling lip-sync models through `preflight.client.WaveSpeedClient`."""

    name = "wavespeed"
    title = "WaveSpeed"
    models = WAVESPEED_MODELS
    video_field, audio_field = "video", "audio"

    def get_task(self, task_id: str, kind: str = "lip-sync") -> Task:
        task: Task = self.client.result(task_id)
        return task


class FalProvider(_ModelQueueProvider):
    """fal's Kling lip-sync models through `preflight.client.FalClient` (its queue API)."""

    name = "fal"
    title = "fal"
    models = FAL_MODELS
    video_field, audio_field = "video_url", "audio_url"

    def get_task(self, task_id: str, kind: str = "lip-sync") -> Task:
        task: Task = self.client.status(task_id)  # both models share one app: any model works
        return task

    def cancel(self, task_id: str) -> str:
        """Ask fal to stop the request: ``CANCELLATION_REQUESTED`` or ``ALREADY_COMPLETED``."""
        answer: str = self.client.cancel(task_id)
        return answer


def _find_by_listing(
    list_page: Callable[..., Any],
    request: SubmitRequest,
    media: Mapping[str, Media],
    external_task_id: str,
    since: float,
) -> Task | None:
    """The task this job created, from the recent task list: by our external id when the list
    shows it, else by the same inputs, made after ``since``. Several matches: ConfigError-free
    refusal to guess (an APIError naming them)."""
    from preflight.model.errors import APIError

    exact: list[Task] = []
    similar: list[Task] = []
    for page in range(1, FIND_MAX_PAGES + 1):
        tasks = list(list_page(page=page, page_size=FIND_PAGE_SIZE))
        for task in tasks:
            created = task.created_at.timestamp() if task.created_at is not None else None
            if created is not None and created < since:
                continue
            if task.external_task_id is not None:
                if task.external_task_id == external_task_id:
                    exact.append(task)
            elif _same_inputs(task, request, media):
                similar.append(task)
        if len(tasks) < FIND_PAGE_SIZE:
            break
    candidates = exact or similar
    if len(candidates) > 1:
        ids = ", ".join(t.id for t in candidates[:10])
        raise APIError(f"{len(candidates)} recent tasks could be this job's ({ids}): not guessing")
    return candidates[0] if candidates else None


def _same_inputs(task: Task, request: SubmitRequest, media: Mapping[str, Media]) -> bool:
    raw = task.raw
    info = raw.get("task_info") if isinstance(raw.get("task_info"), Mapping) else {}
    parent = info.get("parent_video") if isinstance(info, Mapping) else None
    url = parent.get("url") if isinstance(parent, Mapping) else None
    return url is not None and url == media["video"].url
