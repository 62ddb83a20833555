"""WaveSpeed's current upload: an upload instruction, then a PUT to a presigned-style URL.

``POST /api/v3/media/uploads`` with ``{filename, size, content_type}`` answers
``data = {upload: {method: "PUT", url, headers}, download_url}`` (as the official SDK 2.0.5 reads
it). The PUT URL is the sandbox's own storage, behaving like a presigned object-store URL: an
opaque token that expires (``SandboxConfig.upload_ticket_seconds`` on the sandbox clock), no
other authentication (a request that also carries ``Authorization`` is refused, as S3 refuses two
auth mechanisms), and the signed size and content type enforced. Refusals answer in S3's XML
shape. Once the bytes are stored, ``download_url`` serves them, and a create that names that URL
is judged on them; before that it answers 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from preflight.model.atomic import move_into_place
from preflight.sandbox import _checks as checks
from preflight.sandbox._auth import check_wavespeed_key
from preflight.sandbox._body import read_body
from preflight.sandbox._checks import Invalid
from preflight.sandbox._core import Core
from preflight.sandbox._http import wavespeed_error, wavespeed_ok
from preflight.sandbox._store import UploadTicket

__all__ = ["STORAGE_PATH", "put_object", "storage_routes", "ticket"]

STORAGE_PATH = "/storage"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
DRAIN_MAX = 16 * 1024 * 1024  # read at most this much of a refused PUT body (and for at most
DRAIN_SECONDS = 2.0  # this long), so the client gets the refusal instead of a reset


def safe_name(filename: str) -> str:
    return _SAFE.sub("_", Path(filename).name) or "upload"


async def ticket(request: Request) -> Response:
    """``POST /api/v3/media/uploads``: validate the declaration, hand out a PUT instruction."""
    core: Core = request.app.state.core
    await core.arrive()
    if not check_wavespeed_key(
        request.headers.get("authorization"), api_key=core.config.wavespeed_api_key
    ):
        return wavespeed_error(401, "Unauthorized: invalid or missing API key", 401)
    try:
        filename, size, content_type = _declaration(checks.parse_json(await read_body(request)))
    except Invalid as exc:
        return wavespeed_error(1400 if exc.kind == "missing" else 1401, exc.message, 400)
    cap = core.config.upload_max_bytes
    if size > cap:
        return wavespeed_error(413, f"the uploaded file is larger than {cap} bytes", 413)
    token = secrets.token_urlsafe(24)
    name = f"uploads/{uuid.uuid4().hex}/{safe_name(filename)}"
    expires_at = core.clock.now() + core.config.upload_ticket_seconds
    with core.store.lock:
        core.store.tickets[token] = UploadTicket(token, name, size, content_type, expires_at)
    headers = {"Content-Type": content_type} if content_type else {}
    upload = {"method": "PUT", "url": f"{core.base_url}{STORAGE_PATH}/{token}", "headers": headers}
    download_url = f"{core.base_url}/files/{quote(name)}"
    return wavespeed_ok({"upload": upload, "download_url": download_url})


def _declaration(body: Any) -> tuple[str, int, str | None]:
    if not isinstance(body, dict):
        raise Invalid("the request body must be a JSON object")
    filename, size, content_type = body.get("filename"), body.get("size"), body.get("content_type")
    if filename is None or size is None:
        raise Invalid("filename and size are required", kind="missing")
    if not isinstance(filename, str) or not filename.strip():
        raise Invalid("filename must be a non-empty string")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise Invalid("size must be a positive integer (bytes)")
    if content_type is not None and (not isinstance(content_type, str) or not content_type):
        raise Invalid("content_type must be a non-empty string")
    return filename, size, content_type


def _s3_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")


def _refusal(ticket: UploadTicket | None, request: Request, now: float) -> Response | None:
    """Why this PUT is refused (before reading its body), or None when it may proceed."""
    if ticket is None:
        return _s3_error(403, "AccessDenied", "Invalid or unknown upload URL")
    if now > ticket.expires_at:
        return _s3_error(403, "AccessDenied", "Request has expired")
    if "authorization" in request.headers:
        return _s3_error(
            400, "InvalidArgument", "Only one auth mechanism allowed: the URL is already signed"
        )
    sent_type = request.headers.get("content-type")
    if ticket.content_type is not None and sent_type != ticket.content_type:
        return _s3_error(
            403,
            "SignatureDoesNotMatch",
            f"Content-Type {sent_type!r} is not the signed {ticket.content_type!r}",
        )
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        return _s3_error(411, "MissingContentLength", "You must provide the Content-Length header")
    if int(length) != ticket.size:
        return _s3_error(
            403,
            "SignatureDoesNotMatch",
            f"Content-Length {length} differs from the signed size {ticket.size}",
        )
    return None


async def put_object(request: Request) -> Response:
    """``PUT /storage/{token}``: store the bytes the instruction allows, then serve them."""
    core: Core = request.app.state.core
    await core.arrive()
    with core.store.lock:
        ticket = core.store.tickets.get(request.path_params["token"])
    refused = _refusal(ticket, request, core.clock.now())
    if refused is None:
        assert ticket is not None
        try:
            answer = await _store(core, request, ticket)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening any more
        if answer.status_code < 300:
            return answer
        refused = answer
    if ticket is not None:
        with core.store.lock:
            ticket.refused.append(bytes(refused.body).decode())
    await _drain(request)
    return refused


async def _store(core: Core, request: Request, ticket: UploadTicket) -> Response:
    """Stream the body to a temp file, then move it where ``download_url`` serves it from."""
    digest = hashlib.md5(usedforsecurity=False)
    fd, tmp = tempfile.mkstemp(dir=core.inputs, prefix=".put-")
    received = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                received += len(chunk)
                if received > ticket.size:
                    return _s3_error(400, "IncompleteBody", "more bytes than the signed size")
                digest.update(chunk)
                out.write(chunk)
        if received != ticket.size:
            return _s3_error(400, "IncompleteBody", "fewer bytes than the signed size")
        target = core.data_dir / ticket.name
        target.parent.mkdir(parents=True, exist_ok=True)
        move_into_place(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    core.serve(ticket.name, target)
    with core.store.lock:
        ticket.stored = True
    return Response(status_code=200, headers={"ETag": f'"{digest.hexdigest()}"'})


async def _drain(request: Request) -> None:
    """Read (and drop) some of a refused body, so a client still sending sees the answer."""
    drained = 0
    with contextlib.suppress(TimeoutError, ClientDisconnect, RuntimeError):
        async with asyncio.timeout(DRAIN_SECONDS):
            async for chunk in request.stream():
                drained += len(chunk)
                if drained > DRAIN_MAX:
                    return


def storage_routes() -> list[Route]:
    return [Route(f"{STORAGE_PATH}/{{token}}", put_object, methods=["PUT"])]
