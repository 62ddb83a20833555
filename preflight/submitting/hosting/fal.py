"""fal's own storage (its CDN, ``v3.fal.media``), through a `preflight.client.FalClient`.

The same route gives the loopback sandbox a way to take local files for fal jobs. fal does not
state how long an uploaded file stays; :data:`ASSUMED_TTL` is how long preflight trusts a cached
URL before uploading again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from preflight.model.errors import APIError, HostingError
from preflight.submitting.hosting import Hosted

__all__ = ["ASSUMED_TTL", "FalHost", "Uploader"]

ASSUMED_TTL = 24 * 3600.0


class Uploader(Protocol):
    """What this host needs from a fal client."""

    def upload(self, path: str | os.PathLike[str]) -> str: ...


class FalHost:
    """Upload through a fal client's ``upload``; the answer's ``access_url`` is the URL."""

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
        return f"fal@{getattr(self.client, 'base_url', '')}"

    def upload(self, path: Path, *, sha256: str) -> Hosted:
        try:
            url = self.client.upload(path)
        except APIError as exc:
            raise HostingError(f"upload of {path.name!r} to fal failed: {exc}") from exc
        return Hosted(str(url), self.clock() + self.ttl)
