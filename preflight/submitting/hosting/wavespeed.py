"""WaveSpeed's own upload, through its client (``POST /api/v3/media/uploads`` and a PUT, or the
older ``POST /api/v3/media/upload/binary`` on a deployment without it: see the client).

The same endpoint gives the loopback sandbox a way to serve local files for ``preflight demo``.
WaveSpeed does not document how long an uploaded file stays; :data:`ASSUMED_TTL` is how long
preflight trusts a cached URL before uploading again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from preflight.model.errors import APIError, HostingError
from preflight.submitting.hosting import Hosted

__all__ = ["ASSUMED_TTL", "Uploader", "WaveSpeedHost"]

ASSUMED_TTL = 24 * 3600.0


class Uploader(Protocol):
    """What this host needs from a WaveSpeed client."""

    def upload(self, path: str | os.PathLike[str]) -> str: ...


class WaveSpeedHost:
    """Upload through a WaveSpeed client's ``upload``; the answer's ``download_url`` is the URL."""

    def __init__(
        self,
        client: Uploader,
        *,
        ttl: float = ASSUMED_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock

    @property
    def target(self) -> str:
        return f"wavespeed@{getattr(self.client, 'base_url', '')}"

    def upload(self, path: Path, *, sha256: str) -> Hosted:
        try:
            url = self.client.upload(path)
        except APIError as exc:
            raise HostingError(f"upload of {path.name!r} to WaveSpeed failed: {exc}") from exc
        return Hosted(str(url), self.clock() + self.ttl)
