"""Answers in each provider's shape, and the two ways the sandbox misbehaves on the wire."""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

__all__ = ["DropConnection", "kling_error", "kling_ok", "wavespeed_error", "wavespeed_ok"]

KLING_HTTP = {
    1000: 401,
    1001: 401,
    1002: 401,
    1003: 401,
    1004: 401,
    1100: 429,
    1101: 429,
    1102: 429,
    1103: 403,
    1200: 400,
    1201: 400,
    1202: 400,
    1203: 404,
    1300: 400,
    1301: 400,
    1302: 429,
    1303: 429,
    1304: 429,
    5000: 500,
    5001: 503,
    5002: 504,
}


def kling_ok(data: Any) -> JSONResponse:
    return JSONResponse(
        {"code": 0, "message": "SUCCEED", "request_id": str(uuid.uuid4()), "data": data}
    )


def kling_error(code: int, message: str, *, status: int | None = None) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "request_id": str(uuid.uuid4()), "data": None},
        status_code=status or KLING_HTTP.get(code, 400),
    )


def wavespeed_ok(data: Any) -> JSONResponse:
    return JSONResponse({"code": 200, "message": "success", "data": data})


def wavespeed_error(code: int, message: str, status: int) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "data": None}, status_code=status)


class DropConnection(Response):
    """Close the client's connection without a byte of response.

    Uvicorn answers 500 when an app raises before responding, so instead this closes the
    connection's transport (the object behind uvicorn's ``receive``) and then waits for uvicorn
    to notice the disconnect, after which uvicorn sends nothing. The client sees the server
    hang up with no response (httpx: ``RemoteProtocolError``).
    """

    def __init__(self) -> None:
        super().__init__(status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cycle = getattr(receive, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:  # not uvicorn: the next best thing is a broken response
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-length", b"100")],
                }
            )
            raise ConnectionAbortedError("dropped connection (fault injection)")
        transport.close()
        while True:
            message: MutableMapping[str, Any] = await receive()
            if message["type"] == "http.disconnect":
                return
