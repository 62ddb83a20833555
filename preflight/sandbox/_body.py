"""Reading a JSON request body with a cap, so a create cannot make the sandbox buffer gigabytes.

Every JSON route (both providers' creates and the ``/_sandbox`` test API) reads its body through
:func:`read_body`. A body announced past the cap by ``Content-Length`` is refused before a byte of
it is read; a body sent without a length (chunked) is counted while it streams and refused as soon
as it passes the cap. The app answers :class:`BodyTooLarge` with a 413 in the route's provider's
error shape (``_app.body_too_large``); the unread rest is dropped by the server, never stored.
"""

from __future__ import annotations

from starlette.requests import Request

__all__ = ["JSON_MAX_BYTES", "BodyTooLarge", "read_body"]

# The largest body a real create needs is a Kling image2video with a base64 image of at most
# 10 MB (13.4 MB as base64) plus prompts; lip-sync audio by base64 is at most 5 MB (6.7 MB). 16 MiB
# (16.8 MB) leaves a margin over both; `SandboxConfig.json_max_bytes` overrides it.
JSON_MAX_BYTES = 16 * 1024 * 1024


class BodyTooLarge(Exception):
    """The request body is longer than the cap (``limit`` bytes)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit} bytes")
        self.limit = limit


async def read_body(request: Request) -> bytes:
    """The whole body, at most ``json_max_bytes`` of the app's sandbox config, else BodyTooLarge."""
    limit: int = request.app.state.core.config.json_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(limit)
    return bytes(body)
