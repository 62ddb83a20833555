"""The sandbox's engine: task lifecycle on the clock, result videos, callbacks and faults.

Everything here runs on the server's event loop, except ``Core.advance``/``settle`` and the
snapshot helpers, which a test calls from its own thread (they only touch the store under its
lock and wake the loop thread-safely).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx

from preflight.client.url_logs import hide_url_secrets
from preflight.model.errors import InputError
from preflight.model.facts import MediaFacts
from preflight.probing import probe
from preflight.sandbox import _checks as checks
from preflight.sandbox import _fal_wire as fal_wire
from preflight.sandbox import _media
from preflight.sandbox._auth import sign_webhook
from preflight.sandbox._clock import Clock
from preflight.sandbox._config import Faults, SandboxConfig
from preflight.sandbox._limits import Endpoint, Media
from preflight.sandbox._store import OPEN, Store, Task

__all__ = ["Core", "Input"]


@dataclass(frozen=True, slots=True)
class Input:
    """One fetched input: its role in the job, where it is stored, what the probe found."""

    role: str  # video | audio | image
    path: Path
    facts: MediaFacts | InputError

    @property
    def seconds(self) -> float:
        return (self.facts.effective_duration or 0.0) if isinstance(self.facts, MediaFacts) else 0.0


WAVESPEED_STATUS = {
    "submitted": "created",
    "processing": "processing",
    "succeed": "completed",
    "failed": "failed",
}


def sandbox_units(seconds: float | None) -> str:
    """The sandbox's charge for a finished task, as Kling reports it (``final_unit_deduction``, a
    string): one unit per started 5 s of result. The rate is the sandbox's own invention, for
    tests; Kling publishes none."""
    return str(max(1, math.ceil((seconds or 0.0) / 5.0 - 1e-9)))


class Core:
    """State and behaviour shared by the Kling and WaveSpeed routes."""

    def __init__(self, config: SandboxConfig, data_dir: Path) -> None:
        self.config = config
        self.clock = Clock(config.clock_scale)
        self.store = Store()
        self.faults = config.faults
        self.data_dir = data_dir
        self.inputs = data_dir / "inputs"
        self.results = data_dir / "results"
        for d in (self.inputs, self.results):
            d.mkdir(parents=True, exist_ok=True)
        self.base_url = ""
        self.loop: asyncio.AbstractEventLoop | None = None
        self.http: httpx.AsyncClient | None = None
        self._wake: asyncio.Event | None = None
        self._driver: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._facts_cache: dict[tuple[Path, int, int], MediaFacts | InputError] = {}
        self._results: dict[str, asyncio.Future[Path]] = {}
        self._ffmpeg_slots: asyncio.Semaphore | None = None
        self._callback_locks: dict[str, asyncio.Lock] = {}
        self.video_ids: dict[str, tuple[Path, str]] = {}  # result video id -> (file, url)
        self.requests = 0  # provider requests answered (not files, not the test API)
        self.refused: Counter[int] = Counter()  # creates refused with no task, by code

    # -- lifetime (called on the loop) -------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._ffmpeg_slots = asyncio.Semaphore(2)
        hide_url_secrets()  # the media URLs it fetches may carry tokens; httpx logs each one
        self.http = httpx.AsyncClient(
            timeout=self.config.fetch_timeout_seconds,
            follow_redirects=True,
            max_redirects=_media.MAX_REDIRECTS,
            trust_env=False,
        )
        self._driver = asyncio.create_task(self._drive())

    async def stop(self) -> None:
        tasks = [t for t in (self._driver, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.http is not None:
            await self.http.aclose()

    def spawn(self, coro: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def wake(self) -> None:
        """Make the driver look at the clock again (thread-safe)."""
        if self.loop is not None and self._wake is not None:
            self.loop.call_soon_threadsafe(self._wake.set)

    # -- faults ------------------------------------------------------------------------------
    def set_faults(self, faults: Faults) -> None:
        with self.store.lock:
            self.faults = faults
            self.store.creates = 0
            self.store.created = 0

    def count_create(self) -> tuple[int, Faults]:
        """Count one create request; its number and the faults in force."""
        with self.store.lock:
            self.store.creates += 1
            return self.store.creates, self.faults

    def take_expired_token(self) -> bool:
        with self.store.lock:
            if self.faults.expire_next_tokens > 0:
                self.faults = dataclasses.replace(
                    self.faults, expire_next_tokens=self.faults.expire_next_tokens - 1
                )
                return True
            return False

    async def arrive(self) -> None:
        """Count a provider request, and keep it waiting if slow responses are injected."""
        self.requests += 1  # only the loop thread writes it
        if self.faults.delay_ms > 0:
            await asyncio.sleep(self.faults.delay_ms / 1000)

    # -- media -------------------------------------------------------------------------------
    async def facts(self, path: Path) -> MediaFacts | InputError:
        """Probe an input once per version of the file (a repeat costs nothing)."""
        try:
            st = path.stat()
        except OSError as exc:
            return InputError(f"cannot be read: {exc.strerror}", source=str(path))
        key = (path, st.st_size, st.st_mtime_ns)
        cached = self._facts_cache.get(key)
        if cached is None:
            try:
                cached = await asyncio.to_thread(probe, path)
            except InputError as exc:
                cached = exc
            self._facts_cache[key] = cached
        return cached

    async def media(
        self,
        limits: Media,
        *,
        url: str | None = None,
        base64_text: str | None = None,
    ) -> Input:
        """Fetch (or decode) and probe one input; at most its published size limit is read."""
        role, what, cap = limits.kind, limits.role, limits.max_bytes
        if url is not None:
            path = await self.fetch(url, max_bytes=cap, what=what)
        else:
            assert base64_text is not None
            path = _media.decode_base64(
                base64_text, self.inputs, max_bytes=cap, what=what, role=role
            )
        return Input(role, path, await self.facts(path))

    def judge(
        self,
        endpoint: Endpoint,
        *inputs: Input,
        text: dict[str, Any] | None = None,
        prompts: dict[str, str | None] | None = None,
    ) -> None:
        """Refuse (Invalid, 1201) what breaks the endpoint's published limits (``_limits``)."""
        if not self.config.validate_media:
            return
        checks.judge(endpoint, {i.role: i.facts for i in inputs}, text=text, prompts=prompts)

    async def fetch(self, url: str, *, max_bytes: int, what: str) -> Path:
        """An input by URL. The sandbox's own files are read in place, anything else fetched."""
        assert self.http is not None
        own = f"{self.base_url}/files/"
        if self.base_url and url.startswith(own):
            with self.store.lock:
                path = self.store.files.get(unquote(url[len(own) :].split("?", 1)[0]))
            if path is not None and path.is_file():
                if path.stat().st_size > max_bytes:
                    raise _media.MediaRejected(f"{what} is larger than {max_bytes} bytes")
                return path
        return await _media.fetch(
            self.http,
            url,
            self.inputs,
            max_bytes=max_bytes,
            what=what,
            deadline=self.config.fetch_deadline_seconds,
        )

    def serve(self, name: str, path: Path) -> str:
        with self.store.lock:
            self.store.files[name] = path
        return f"{self.base_url}/files/{quote(name)}"

    # -- tasks -------------------------------------------------------------------------------
    def add_task(self, task: Task, fail_every: int) -> None:
        """Register a new task (caller holds the lock): schedule it, maybe mark it to fail."""
        store = self.store
        store.created += 1
        if fail_every and store.created % fail_every == 0:
            task.fail = self.faults.fail_message
        task.processing_at = task.created_at / 1000 + self.config.submitted_seconds
        store.add(task)
        self.wake()
        self.spawn(self._notify(task.id, self.serialize(task)))

    def serialize(self, task: Task) -> dict[str, Any]:
        if task.provider == "fal":
            return fal_wire.webhook_body(task)
        if task.provider == "wavespeed":
            return self.wavespeed_object(task)
        return self.kling_object(task)

    def kling_object(self, task: Task) -> dict[str, Any]:
        info: dict[str, Any] = {}
        if task.parent_video is not None:
            info["parent_video"] = task.parent_video
        if task.external_task_id:
            info["external_task_id"] = task.external_task_id
        videos = []
        if task.status == "succeed" and task.result_url:
            videos.append(
                {
                    "id": task.result_id,
                    "url": task.result_url,
                    "duration": f"{task.result_duration or 0:.3f}",
                }
            )
        found = {
            "task_id": task.id,
            "task_status": task.status,
            "task_status_msg": task.status_msg,
            "task_info": info,
            "task_result": {"videos": videos},
            "created_at": task.created_at,
            "updated_at": task.updated_at,
        }
        if videos:
            found["final_unit_deduction"] = sandbox_units(task.result_duration)
        return found

    def wavespeed_object(self, task: Task) -> dict[str, Any]:
        done = task.status == "succeed" and task.result_url
        return {
            "id": task.id,
            "model": task.endpoint,
            "input": dict(task.params),
            "outputs": [task.result_url] if done else [],
            "urls": {"get": f"{self.base_url}/api/v3/predictions/{task.id}/result"},
            "status": WAVESPEED_STATUS[task.status],
            "created_at": datetime.fromtimestamp(task.created_at / 1000, UTC).isoformat(),
            "error": task.status_msg if task.status == "failed" else "",
            "has_nsfw_contents": [False] if done else [],
            "timings": {"inference": max(0, task.updated_at - task.created_at)} if done else {},
        }

    # -- lifecycle ---------------------------------------------------------------------------
    async def _drive(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            started, changed, next_at = self._step()
            for task_id, work in started:
                self.spawn(self._produce(task_id, work))
            for task_id, body in changed:
                self.spawn(self._notify(task_id, body))
            timeout = None if next_at is None else self.clock.real_seconds_until(next_at)
            if timeout == 0.0:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _step(
        self,
    ) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]], float | None]:
        """Apply every transition due now; what started, what changed, and the next deadline."""
        now = self.clock.now()
        now_ms = int(now * 1000)
        started: list[tuple[str, dict[str, Any]]] = []
        changed: list[tuple[str, dict[str, Any]]] = []
        next_at: float | None = None
        with self.store.lock:
            for task in self.store.open_tasks():
                if task.status == "submitted" and task.processing_at <= now:
                    self.store.set_status(task, "processing", "", now_ms)
                    task.done_at = task.processing_at + self.config.processing_seconds
                    changed.append((task.id, self.serialize(task)))
                    if task.fail is None:
                        started.append((task.id, task.work))
                    else:
                        task.result_ready = True
                if task.status == "processing":
                    assert task.done_at is not None
                    if task.done_at <= now and task.result_ready:
                        self._finish(task, now_ms)
                        changed.append((task.id, self.serialize(task)))
                        continue
                    if task.done_at > now:
                        next_at = task.done_at if next_at is None else min(next_at, task.done_at)
                elif task.status == "submitted":
                    at = task.processing_at
                    next_at = at if next_at is None else min(next_at, at)
        return started, changed, next_at

    def _finish(self, task: Task, now_ms: int) -> None:
        if task.fail is not None:
            self.store.set_status(task, "failed", task.fail, now_ms)
        elif task.result_error is not None:
            self.store.set_status(task, "failed", task.result_error, now_ms)
        else:
            self.store.set_status(task, "succeed", "", now_ms)

    def due_pending(self) -> bool:
        """True while some open task should already have moved on (caller holds the lock)."""
        now = self.clock.now()
        for task in self.store.open_tasks():
            if task.status == "submitted" and task.processing_at <= now:
                return True
            if task.status == "processing" and task.done_at is not None and task.done_at <= now:
                return True
        return False

    def next_deadline(self) -> float | None:
        """The earliest time an open task moves on (caller holds the lock)."""
        times = [
            t.processing_at if t.status == "submitted" else (t.done_at or 0.0)
            for t in self.store.open_tasks()
        ]
        return min(times) if times else None

    async def _produce(self, task_id: str, work: dict[str, Any]) -> None:
        """Make the result video (deduplicated by content), then let the driver finish the task."""
        key = hashlib.sha256(json.dumps(work, sort_keys=True, default=str).encode()).hexdigest()
        future = self._results.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._results[key] = future
            try:
                assert self._ffmpeg_slots is not None
                async with self._ffmpeg_slots:
                    path = await asyncio.to_thread(self._make, work, self.results / f"{key}.mp4")
                future.set_result(path)
            except _media.MediaRejected as exc:
                future.set_exception(exc)
                del self._results[key]
            except Exception as exc:  # noqa: BLE001 - any failure ends the task, never hangs it
                future.set_exception(_media.MediaRejected(f"internal error: {type(exc).__name__}"))
                del self._results[key]
        try:
            path = await asyncio.shield(future)
            url = self.serve(f"results/{key}.mp4", path)
            with self.store.lock:
                result_id = self.store.new_kling_id()
                task = self.store.tasks[task_id]
                task.result_url = url
                task.result_id = result_id
                task.result_duration = work.get("seconds")
                task.result_ready = True
                self.video_ids[result_id] = (path, url)
        except _media.MediaRejected as exc:
            with self.store.lock:
                task = self.store.tasks[task_id]
                task.result_error = exc.message
                task.result_ready = True
        self.wake()

    @staticmethod
    def _make(work: dict[str, Any], target: Path) -> Path:
        kind = work["kind"]
        if kind == "mux":
            audio = Path(work["audio"]) if work.get("audio") else None
            tone = tuple(work["tone"]) if work.get("tone") else None
            return _media.mux_audio(Path(work["video"]), target, audio=audio, tone=tone)
        if kind == "still":
            return _media.image_to_video(Path(work["image"]), target, seconds=work["seconds"])
        if kind == "advanced":
            return _media.mix_advanced(
                Path(work["video"]),
                Path(work["audio"]),
                target,
                start_ms=work["start_ms"],
                end_ms=work["end_ms"],
                insert_ms=work["insert_ms"],
                volume=work["volume"],
                original_volume=work["original_volume"],
                video_has_audio=work["video_has_audio"],
            )
        raise ValueError(f"unknown work kind {kind!r}")

    # -- callbacks ---------------------------------------------------------------------------
    async def _notify(self, task_id: str, body: dict[str, Any]) -> None:
        """POST a status change to the task's callback (Kling) or webhook (WaveSpeed), in order."""
        with self.store.lock:
            task = self.store.tasks[task_id]
            url = task.callback_url if task.provider == "kling" else task.webhook_url
            provider = task.provider
        status = str(body.get("task_status") or body.get("status"))
        if not url:
            return
        if provider == "wavespeed" and body["status"] not in ("completed", "failed"):
            return
        if provider == "fal" and body["status"] not in ("OK", "ERROR"):
            return  # fal calls its webhook once, when the request is done
        lock = self._callback_locks.setdefault(task_id, asyncio.Lock())
        async with lock:
            if provider == "kling":
                await self._post(url, task_id, status, json.dumps(body).encode(), {}, attempts=1)
            elif provider == "fal":  # unsigned here (fal signs with ED25519 keys it publishes)
                raw = json.dumps(body).encode()
                attempts = max(1, self.config.webhook_attempts)
                await self._post(url, task_id, status, raw, {}, attempts=attempts)
            else:
                raw = json.dumps(body).encode()
                webhook_id = uuid.uuid4().hex
                stamp = int(time.time())
                headers = {
                    "webhook-id": webhook_id,
                    "webhook-timestamp": str(stamp),
                    "webhook-signature": sign_webhook(
                        self.config.wavespeed_webhook_secret, webhook_id, stamp, raw
                    ),
                }
                await self._post(
                    url,
                    task_id,
                    status,
                    raw,
                    headers,
                    attempts=max(1, self.config.webhook_attempts),
                )
            if status not in OPEN and status not in ("created",):
                self._callback_locks.pop(task_id, None)

    async def _post(
        self,
        url: str,
        task_id: str,
        status: str,
        raw: bytes,
        headers: dict[str, str],
        *,
        attempts: int,
    ) -> None:
        assert self.http is not None
        outcome: dict[str, Any] = {"task_id": task_id, "status": status, "url": url}
        for attempt in range(1, attempts + 1):
            try:
                response = await self.http.post(
                    url,
                    content=raw,
                    headers={"content-type": "application/json", **headers},
                    timeout=self.config.callback_timeout_seconds,
                )
                outcome.update(http_status=response.status_code, attempts=attempt)
                if response.is_success:
                    break
            except httpx.HTTPError as exc:
                outcome.update(error=type(exc).__name__, attempts=attempt)
            if attempt < attempts:
                await asyncio.sleep(self.config.webhook_retry_seconds * attempt)
        with self.store.lock:
            self.store.callbacks.append(outcome)
            self.store.cond.notify_all()
