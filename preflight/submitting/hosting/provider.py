"""A provider's own upload, through its client's ``upload(path) -> URL``.

WaveSpeed (``POST /api/v3/media/uploads`` and a PUT, or the older
``POST /api/v3/media/upload/binary`` on a deployment without it) and fal (a storage token, then
its CDN) each have one; the client does the provider's wire format, this host only names the
target and turns a failure into a `HostingError`. The same routes give the loopback sandbox a way
to take local files (``preflight demo``). Neither provider documents how long an uploaded file
stays: :data:`ASSUMED_TTL` is how long preflight trusts a cached URL before uploading again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from preflight.model.errors import APIError, HostingError
from preflight.submitting.hosting import Hosted

__all__ = ["ASSUMED_TTL", "ProviderHost", "Uploader"]

ASSUMED_TTL = 24 * 3600.0


class Uploader(Protocol):
    """What this host needs from a client: ``upload`` answers the uploaded file's URL."""

    def upload(self, path: str | os.PathLike[str]) -> str: ...


class ProviderHost:
    """Upload through ``client.upload``; ``provider`` names it in the cache key and in errors."""

    def __init__(
        self,
        client: Uploader,
        provider: str,
        title: str,
        *,
        ttl: float = ASSUMED_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.provider = provider
        self.title = title
        self.ttl = ttl
        self.clock = clock

    @property
    def target(self) -> str:
        return f"{self.provider}@{getattr(self.client, 'base_url', '')}"

    def upload(self, path: Path, *, sha256: str) -> Hosted:
        try:
            url = self.client.upload(path)
        except APIError as exc:
            raise HostingError(f"upload of {path.name!r} to {self.title} failed: {exc}") from exc
        return Hosted(str(url), self.clock() + self.ttl)
