"""Giving local media a URL (or inline data) so a provider can fetch it.

Three ways, picked by the provider and the user's options:

- :mod:`preflight.submitting.hosting.s3`: upload to S3-compatible storage (AWS, R2, MinIO through
  ``AWS_ENDPOINT_URL``) and hand out a presigned GET URL (optional extra ``s3``);
- :mod:`preflight.submitting.hosting.provider`: the provider's own upload (WaveSpeed, fal),
  through the client;
- :mod:`preflight.submitting.hosting.inline`: audio inlined as raw base64 for Kling's
  ``audio_file``.

Uploads are content-addressed: :func:`host_file` keeps, in the ledger's file
(`preflight.submitting.caches.UploadCache`), which content (sha256)
is already at which place with which URL until when, and does not upload it again while the URL
stays valid for at least ``min_valid`` seconds more.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from preflight.submitting.ledger import Ledger

__all__ = ["DEFAULT_MIN_VALID", "Host", "Hosted", "host_file"]

# a cached URL is reused only when it stays valid this much longer: long enough for the
# provider to queue the task and fetch the media
DEFAULT_MIN_VALID = 3600.0


@dataclass(frozen=True, slots=True)
class Hosted:
    """Where a file can be fetched: ``url``, valid until ``expires_at`` (epoch s; None: unknown)."""

    url: str
    expires_at: float | None
    cached: bool = False


class Host(Protocol):
    """A place that gives a local file a URL."""

    @property
    def target(self) -> str:
        """Names the place (bucket and prefix, upload service): the upload cache's key."""
        ...

    def upload(self, path: Path, *, sha256: str) -> Hosted:
        """Put the file there (or find it already there) and return its URL."""
        ...


def host_file(
    host: Host,
    path: str | os.PathLike[str],
    ledger: Ledger,
    *,
    min_valid: float = DEFAULT_MIN_VALID,
) -> Hosted:
    """A URL for ``path`` at ``host``: a still-valid cached one, else a fresh upload (recorded)."""
    from preflight.submitting.caches import HashCache, UploadCache

    sha256 = HashCache(ledger).sha256(path)
    uploads = UploadCache(ledger)
    with _lock_for(sha256, host.target):  # a batch uploads shared content once, not N times
        cached = uploads.get(sha256, host.target, min_valid=min_valid)
        if cached is not None:
            return Hosted(cached[0], cached[1], cached=True)
        hosted = host.upload(Path(path), sha256=sha256)
        uploads.put(sha256, host.target, hosted.url, hosted.expires_at)
        return hosted


_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(sha256: str, target: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault((sha256, target), threading.Lock())
