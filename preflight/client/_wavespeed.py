"""WaveSpeedAI requests as sans-I/O operations.

WaveSpeed has no way to look a prediction up by anything but its id, so a submit that fails
ambiguously (dropped connection, timeout after sending, 5xx) is never sent again: like the
official SDK, the error says the task may exist. Polls and uploads are retried by the policy.

An upload goes the way the official SDK (2.0.5) sends it: ``POST /api/v3/media/uploads`` with
``{filename, size, content_type}`` returns a PUT instruction and the ``download_url``; the file is
streamed to that URL with the instruction's headers only (it is a presigned URL elsewhere: the API
key never goes there). A host that answers that route 404/405 is an older deployment: the client
then uses ``POST /api/v3/media/upload/binary`` (multipart ``file``, streamed too) for this and
every later upload, and says so in its debug log.
"""

from __future__ import annotations

import logging
import mimetypes
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from preflight.client._core import AmbiguousCreateError, Core, Op
from preflight.client._files import FileBody
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
UPLOADS_PATH = "/api/v3/media/uploads"  # current: an upload instruction, then a PUT
BINARY_UPLOAD_PATH = "/api/v3/media/upload/binary"  # older: multipart field `file`
ROUTE_MISSING = frozenset({404, 405})  # how an older deployment answers the current route

log = logging.getLogger("preflight.client")


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
        self._binary_only = False  # set once the host turned out to lack the current upload

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
        """Upload a local file; the URL it is served from (a submit's ``video``/``audio``)."""
        file = Path(path)
        size = _size_of(file, path)
        mime = mimetypes.guess_type(file.name)[0]
        if self._binary_only:
            return (yield from self._upload_binary(file, mime))
        declaration: dict[str, Any] = {"filename": file.name, "size": size}
        if mime:
            declaration["content_type"] = mime
        try:
            data = yield from self.request("POST", UPLOADS_PATH, json=declaration)
        except APIError as exc:
            if exc.http_status not in ROUTE_MISSING:
                raise
            self._binary_only = True
            log.debug(
                "POST %s answered %d: an older WaveSpeed deployment; uploading through %s",
                UPLOADS_PATH,
                exc.http_status,
                BINARY_UPLOAD_PATH,
            )
            return (yield from self._upload_binary(file, mime))
        url, headers, download_url = _instruction(data)
        log.debug(
            "uploading %s (%d bytes) through %s: PUT to %s",
            file.name,
            size,
            UPLOADS_PATH,
            httpx.URL(url).host,
        )
        yield from self.transfer("PUT", url, FileBody(file, size), headers)
        return download_url

    def _upload_binary(self, file: Path, mime: str | None) -> Op[str]:
        try:
            # httpx streams the part from the open file, and rewinds it for a retry
            with file.open("rb") as fh:
                data = yield from self.request(
                    "POST",
                    BINARY_UPLOAD_PATH,
                    files={"file": (file.name, fh, mime or "application/octet-stream")},
                )
        except OSError as exc:
            raise _unreadable(file, exc) from exc
        url = _mapping(data).get("download_url")
        if not url:
            raise APIError("WaveSpeed: the upload answered without a download_url")
        return str(url)


def _size_of(file: Path, given: str | os.PathLike[str]) -> int:
    try:
        if not file.is_file():
            raise InvalidRequestError(
                f"rejected before sending: {os.fspath(given)!r} is not a file"
            )
        size = file.stat().st_size
        with file.open("rb"):
            pass
    except OSError as exc:
        raise _unreadable(file, exc) from exc
    if size == 0:
        raise InvalidRequestError(f"rejected before sending: {os.fspath(given)!r} is empty")
    return size


def _unreadable(file: Path, exc: OSError) -> InvalidRequestError:
    return InvalidRequestError(
        f"rejected before sending: cannot read {os.fspath(file)!r}: {exc.strerror or exc}"
    )


def _instruction(data: Any) -> tuple[str, dict[str, str], str]:
    """The PUT URL, its headers and the download URL from an upload instruction's ``data``."""
    ticket = _mapping(data)
    upload = _mapping(ticket.get("upload"))
    url, download_url = upload.get("url"), ticket.get("download_url")
    method = str(upload.get("method") or "PUT").upper()
    if method != "PUT" or not isinstance(url, str) or not url or not download_url:
        raise APIError(
            "WaveSpeed: the upload instruction is unusable (expected a PUT url and a download_url)"
        )
    try:
        scheme = httpx.URL(url).scheme
    except httpx.InvalidURL as exc:
        raise APIError("WaveSpeed: the upload instruction's URL is not a URL") from exc
    if scheme not in ("http", "https"):
        raise APIError(f"WaveSpeed: the upload instruction's URL is not http(s) ({scheme!r})")
    headers = {str(k): str(v) for k, v in _mapping(upload.get("headers")).items()}
    return url, headers, str(download_url)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
