"""The ASGI app: every provider's routes (Kling, WaveSpeed, fal), files, and the `/_sandbox` API."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from preflight.sandbox import _fal, _kling, _wavespeed
from preflight.sandbox._body import BodyTooLarge, read_body
from preflight.sandbox._config import Faults
from preflight.sandbox._core import Core
from preflight.sandbox._http import kling_error, wavespeed_error

__all__ = ["build_app"]


async def serve_file(request: Request) -> Response:
    core: Core = request.app.state.core
    with core.store.lock:
        path = core.store.files.get(request.path_params["name"])
    if path is None or not path.is_file():
        return JSONResponse({"message": "not found"}, status_code=404)
    return FileResponse(path)


async def list_tasks(request: Request) -> Response:
    core: Core = request.app.state.core
    with core.store.lock:
        tasks = core.store.snapshot()
        open_count = core.store.open
    return JSONResponse(
        {
            "count": len(tasks),
            "open": open_count,
            "requests": core.requests,
            "refused": {str(code): n for code, n in core.refused.items()},
            "tasks": [
                {k: v for k, v in dataclasses.asdict(t).items() if k != "params"} for t in tasks
            ],
        }
    )


async def set_faults(request: Request) -> Response:
    core: Core = request.app.state.core
    try:
        faults = Faults(**json.loads(await read_body(request) or b"{}"))
    except (TypeError, ValueError, RecursionError) as exc:
        return JSONResponse({"message": f"bad faults: {exc}"}, status_code=400)
    core.set_faults(faults)
    return JSONResponse(dataclasses.asdict(faults))


async def advance(request: Request) -> Response:
    core: Core = request.app.state.core
    try:
        seconds = float(json.loads(await read_body(request) or b"{}").get("seconds", 0))
        core.clock.advance(seconds)
    except (TypeError, ValueError, AttributeError, RecursionError) as exc:
        return JSONResponse({"message": f"bad advance: {exc}"}, status_code=400)
    core.wake()
    return JSONResponse({"now": core.clock.now()})


_FAL_PATHS = ("/fal-ai/", "/storage/", "/files/upload")  # fal's queue, token and CDN routes


async def internal_error(request: Request, exc: Exception) -> Response:
    """A sandbox bug still answers in the provider's shape (uvicorn logs the traceback)."""
    if request.url.path.startswith("/api/v3/"):
        return wavespeed_error(5000, "Internal server error", 500)
    if request.url.path.startswith(_FAL_PATHS):
        return _fal.fal_error(500, "Internal server error")
    return kling_error(5000, "Internal server error")


async def body_too_large(request: Request, exc: Exception) -> Response:
    """A JSON body past the cap is 413 in the shape of the route's provider (Kling has no code
    of its own for it: 1200, its "invalid request" family)."""
    message = str(exc)
    if request.url.path.startswith("/api/v3/"):
        return wavespeed_error(413, message, 413)
    if request.url.path.startswith("/_sandbox/"):
        return JSONResponse({"message": message}, status_code=413)
    if request.url.path.startswith(_FAL_PATHS):
        return _fal.fal_error(413, message)
    return kling_error(1200, message, status=413)


def build_app(core: Core) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await core.start()
        try:
            yield
        finally:
            await core.stop()

    app = Starlette(
        routes=[
            *_kling.routes(),
            *_wavespeed.routes(),
            *_fal.routes(),
            Route("/files/{name:path}", serve_file, methods=["GET", "HEAD"]),
            Route("/_sandbox/tasks", list_tasks, methods=["GET"]),
            Route("/_sandbox/faults", set_faults, methods=["PUT", "POST"]),
            Route("/_sandbox/advance", advance, methods=["POST"]),
        ],
        lifespan=lifespan,
        exception_handlers={Exception: internal_error, BodyTooLarge: body_too_large},
    )
    app.state.core = core
    return app
