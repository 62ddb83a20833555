"""Download a result to OUT without ever leaving a partial file there.

Bytes go to ``.OUT.part`` beside the target; an interrupted download is continued from where it
stopped (HTTP Range) when the server allows, else started over; the file is checked against the
announced length and moved into place with ``os.replace`` only when complete. The whole
download runs under one overall deadline (``deadline`` seconds, default ``$PREFLIGHT_URL_TIMEOUT``
or 60 s) on top of the per-read timeout: a server that drips bytes ends it with
``APIConnectionError`` and the ``.part`` kept, so the next run continues from there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from preflight.model.atomic import move_into_place
from preflight.model.errors import APIConnectionError, APIError
from preflight.submitting._crashpoints import crash_point

if TYPE_CHECKING:
    import httpx

__all__ = ["download", "part_path"]

CHUNK = 64 * 1024
TIMEOUT = 30.0  # seconds without progress before a read or connect gives up


def part_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.part")


def download(
    url: str,
    out: Path,
    *,
    on_progress: Callable[[int, int | None], None] | None = None,
    http: httpx.Client | None = None,
    deadline: float | None = None,
) -> Path:
    """Fetch ``url`` into ``out`` (resuming a ``.part`` file left by an earlier attempt).

    ``deadline``: seconds for the whole download (default ``$PREFLIGHT_URL_TIMEOUT`` or 60); a
    caller's own ``http`` client is bounded between chunks only.
    """
    import httpx

    from preflight.client.deadline import Deadline, deadline_client, fetch_problem, timeout_from_env

    limit = Deadline(
        timeout_from_env(os.environ.get("PREFLIGHT_URL_TIMEOUT")) if deadline is None else deadline
    )

    out.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(out)
    have = part.stat().st_size if part.exists() else 0
    total: int | None = None
    headers = {"Range": f"bytes={have}-"} if have else {}
    client = http or deadline_client(limit, read_timeout=TIMEOUT)
    try:
        with client.stream("GET", url, headers=headers) as response:
            total = _receive(response, part, have, on_progress, limit.check)
    except httpx.TimeoutException as exc:
        raise APIConnectionError(
            f"downloading failed: {fetch_problem(exc, limit)}; run again to continue it"
        ) from exc
    except (httpx.UnsupportedProtocol, httpx.TooManyRedirects) as exc:  # again will not help
        raise APIError(f"downloading failed: {fetch_problem(exc, limit)}") from exc
    except httpx.TransportError as exc:
        raise APIConnectionError(
            f"downloading the result failed ({type(exc).__name__}); run again to continue it"
        ) from exc
    except OSError as exc:
        raise APIError(f"cannot write {part}: {exc.strerror}") from exc
    finally:
        if http is None:
            client.close()
    size = part.stat().st_size
    if total is not None and size != total:
        raise APIConnectionError(
            f"downloading the result stopped at {size} of {total} bytes; run again to continue it"
        )
    return move_into_place(part, out)


def _receive(
    response: httpx.Response,
    part: Path,
    have: int,
    on_progress: Callable[[int, int | None], None] | None,
    check_deadline: Callable[[], None],
) -> int | None:
    """Write what ``response`` brings after the ``have`` bytes of ``part``; the whole size."""
    if response.status_code == 416 and have:  # the part is already whole
        return have
    if response.status_code not in (200, 206):
        raise APIError(
            f"downloading the result failed: HTTP {response.status_code}",
            http_status=response.status_code,
        )
    if response.status_code == 200:
        have = 0  # no range support: start over
    total = _total(response, have)
    _append(response, part, have, total, on_progress, check_deadline)
    return total


def _append(
    response: httpx.Response,
    part: Path,
    have: int,
    total: int | None,
    on_progress: Callable[[int, int | None], None] | None,
    check_deadline: Callable[[], None],
) -> None:
    """The response's bytes after the ``have`` already in ``part``, flushed as they come;
    ``check_deadline`` raises once the download's overall deadline has passed."""
    written = have
    with open(part, "ab" if have else "wb") as fh:
        for chunk in response.iter_bytes(CHUNK):
            check_deadline()
            fh.write(chunk)
            written += len(chunk)
            if on_progress is not None:
                on_progress(written, total)
            fh.flush()
            crash_point("mid-download")
        fh.flush()
        os.fsync(fh.fileno())


def _total(response: httpx.Response, have: int) -> int | None:
    if response.status_code == 206:
        content_range = response.headers.get("content-range", "")
        _, _, total = content_range.rpartition("/")
        if total.isdigit():
            return int(total)
    length = response.headers.get("content-length")
    if length is not None and length.isdigit():
        return int(length) + (have if response.status_code == 206 else 0)
    return None
