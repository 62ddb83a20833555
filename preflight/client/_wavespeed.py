"""WaveSpeedAI requests as sans-I/O operations.

WaveSpeed has no way to look a prediction up by anything but its id, so a submit that fails
ambiguously (dropped connection, timeout after sending, 5xx) is never sent again: like the
official SDK, the error says the task may exist. Polls and uploads are retried by the policy.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from preflight.client._core import AmbiguousCreateError, Core, Op
from preflight.client._policy import RetryPolicy
from preflight.client.models import Task
from preflight.model.errors import APIError, InvalidRequestError

__all__ = [
    "AUDIO_TO_VIDEO_MODEL",
    "DEFAULT_WAVESPEED_BASE_URL",
    "TEXT_TO_VIDEO_MODEL",
    "WaveSpeedCore",
]

DEFAULT_WAVESPEED_BASE_URL = "https://api.wavespeed.ai"
TEXT_TO_VIDEO_MODEL = "kwaivgi/kling-lipsync/text-to-video"
AUDIO_TO_VIDEO_MODEL = "kwaivgi/kling-lipsync/audio-to-video"


class WaveSpeedCore(Core):
    """WaveSpeed's envelope (``code`` 200 = success) and its operations."""

    provider = "wavespeed"
    name = "WaveSpeed"
    success_code = 200

    def __init__(
        self, api_key: str, base_url: str, *, policy: RetryPolicy, clock: Callable[[], float]
    ) -> None:
        super().__init__(base_url, policy=policy, clock=clock)
        self._api_key = api_key

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    def submit(self, model: str, fields: Mapping[str, Any], webhook: str | None) -> Op[Task]:
        model = model.strip("/")
        if not model:
            raise InvalidRequestError("rejected before sending: no model given")
        params = {"webhook": webhook} if webhook else None
        try:
            data = yield from self.request(
                "POST", f"/api/v3/{model}", params=params, json=dict(fields), create=True
            )
        except AmbiguousCreateError as ambiguous:
            error = ambiguous.error
            raise type(error)(
                f"{error.message}; the prediction may have been created (WaveSpeed offers no "
                "lookup without its id), so it was not submitted again",
                code=error.code,
                http_status=error.http_status,
                request_id=error.request_id,
            ) from error
        return Task.from_wavespeed(_mapping(data))

    def result(self, prediction_id: str) -> Op[Task]:
        if not prediction_id or "/" in prediction_id:
            raise InvalidRequestError(
                f"rejected before sending: bad prediction id {prediction_id!r}"
            )
        data = yield from self.request("GET", f"/api/v3/predictions/{prediction_id}/result")
        return Task.from_wavespeed(_mapping(data))

    def refresh(self, task: Task) -> Op[Task]:
        return self.result(task.id)

    def upload(self, path: str | os.PathLike[str]) -> Op[str]:
        file = Path(path)
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise InvalidRequestError(
                f"rejected before sending: cannot read {os.fspath(path)!r}: {exc.strerror or exc}"
            ) from exc
        mime = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        data = yield from self.request(
            "POST", "/api/v3/media/upload/binary", files={"file": (file.name, content, mime)}
        )
        url = _mapping(data).get("download_url")
        if not url:
            raise APIError("WaveSpeed: the upload answered without a download_url")
        return str(url)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
