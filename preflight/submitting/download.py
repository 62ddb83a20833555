"""Download a result to OUT without ever leaving a partial file there.

Bytes go to ``.OUT.part`` beside the target; an interrupted download is continued from where it
stopped (HTTP Range) when the server allows, else started over; the file is checked against the
announced length and moved into place with ``os.replace`` only when complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

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
) -> Path:
    """Fetch ``url`` into ``out`` (resuming a ``.part`` file left by an earlier attempt)."""
    import httpx

    out.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(out)
    have = part.stat().st_size if part.exists() else 0
    total: int | None = None
    headers = {"Range": f"bytes={have}-"} if have else {}
    client = http or httpx.Client(timeout=TIMEOUT, follow_redirects=True)
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 416 and have:  # the part is already whole
                total = have
            elif response.status_code in (200, 206):
                if response.status_code == 200:
                    have = 0  # no range support: start over
                total = _total(response, have)
                mode = "ab" if have else "wb"
                written = have
                with open(part, mode) as fh:
                    for chunk in response.iter_bytes(CHUNK):
                        fh.write(chunk)
                        written += len(chunk)
                        if on_progress is not None:
                            on_progress(written, total)
                        fh.flush()
                        crash_point("mid-download")
                    fh.flush()
                    os.fsync(fh.fileno())
            else:
                raise APIError(
                    f"downloading the result failed: HTTP {response.status_code}",
                    http_status=response.status_code,
                )
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
    os.replace(part, out)
    return out


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
