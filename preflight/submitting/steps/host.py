"""The host step (``checked``/``fixed`` → ``hosted``): how each local file reaches the provider.

The route (S3 through ``--upload-to``, inline base64, the provider's own upload, the demo's
sandbox) is decided before anything is spent: a file with no route stops the job as ``blocked``
with the action it needs, before any download, encode, upload or create.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from preflight.model.errors import ConfigError
from preflight.submitting.ledger import JobStatus, Lease
from preflight.submitting.model import JobResult, Outcome, SubmitRequest, is_url
from preflight.submitting.providers import Media, Provider
from preflight.submitting.registry import entry
from preflight.submitting.steps.base import StepBase

if TYPE_CHECKING:
    from preflight.submitting.hosting import Host
    from preflight.submitting.hosting.s3 import S3Host

__all__ = ["INLINE", "Hosting", "decode_media", "encode_media"]

INLINE = "inline:"


class Hosting(StepBase):
    """Routes and uploads."""

    def s3_host(self, url: str) -> S3Host:
        """One S3 host (one boto3 client) per ``--upload-to`` for every job of this submitter."""
        from preflight.submitting.hosting.s3 import S3Host

        with self._lock:
            if url not in self._hosts:
                self._hosts[url] = S3Host.from_url(url)
            return self._hosts[url]

    def route(self, request: SubmitRequest, provider: Provider, role: str) -> str | None:
        """How a local file for ``role`` would reach ``provider``: ``s3``, ``inline``,
        ``upload`` (the provider's own), ``fallback`` (the demo's sandbox), or None (no way).

        The provider's registry entry decides; the fallback host is the submitter's own."""
        found = entry(provider.name).hosting(role, upload_to=bool(request.upload_to))
        return found or ("fallback" if self.fallback_host is not None else None)

    def _block_unroutable(
        self,
        request: SubmitRequest,
        provider: Provider,
        lease: Lease,
        job: str,
        roles: Mapping[str, str],
    ) -> JobResult | None:
        """Stop as ``blocked`` when a file for one of ``roles`` (role -> source) would be local
        and has no way to reach the provider: before any download, encode, upload or create."""
        for role, source in roles.items():
            if self.route(request, provider, role) is not None:
                continue
            what = (
                f"the {role} needs a fix and the fixed file is local"
                if is_url(source)
                else f"the {role} is a local file"
            )
            reason = f"{what}, but {provider.name} fetches media by URL and has no upload endpoint"
            action = (
                f"pass --upload-to s3://BUCKET/PREFIX: `preflight resume {job} --upload-to "
                f"s3://BUCKET/PREFIX`"
                + ("" if is_url(source) else f", or give the {role} as a URL")
            )
            self.ledger.update(lease, status=JobStatus.BLOCKED, error=f"{reason}; {action}")
            self.emit("host", "fail", f"blocked: {reason}", job, role=role, action=action)
            return self._result(
                request, self.ledger.get(job), Outcome.BLOCKED, reason=reason, action=action
            )
        return None

    def _media(
        self,
        request: SubmitRequest,
        provider: Provider,
        lease: Lease,
        job: str,
        sources: Mapping[str, str],
    ) -> dict[str, Media] | JobResult:
        """What the create sends for each input (``hosted``): a URL as given, inline data, or the
        URL of an upload along the route `route` picks; ``blocked`` when a local file has none."""
        local = {role: source for role, source in sources.items() if not is_url(source)}
        blocked = self._block_unroutable(request, provider, lease, job, local)
        if blocked is not None:
            return blocked
        media: dict[str, Media] = {}
        for role, source in sources.items():
            if is_url(source):
                media[role] = Media(url=source)
            elif provider.inline(role) and not request.upload_to:
                media[role] = Media(file=Path(source).resolve())
                self.emit("host", "skip", f"{role}: sent inline (base64)", job, role=role)
            else:
                media[role] = Media(url=self._host(request, provider, role, source, job))
        self.ledger.update(lease, status=JobStatus.HOSTED, urls=encode_media(media))
        return media

    def _host(
        self, request: SubmitRequest, provider: Provider, role: str, source: str, job: str
    ) -> str:
        from preflight.submitting.hosting import host_file

        host: Host | None
        if request.upload_to:
            host = self.s3_host(request.upload_to)
        else:
            host = provider.host() or self.fallback_host
        if host is None:
            raise ConfigError(
                f"the {role} is a local file and {provider.name} needs a URL: pass "
                "--upload-to s3://BUCKET/PREFIX"
            )
        self.emit("host", "start", f"uploading the {role}", job, role=role)
        hosted = host_file(host, source, self.ledger)
        self.emit(
            "host",
            "done",
            f"{role}: {'already uploaded' if hosted.cached else 'uploaded'}",
            job,
            role=role,
            cached=hosted.cached,
        )
        return hosted.url


def encode_media(media: Mapping[str, Media]) -> dict[str, str]:
    return {r: m.url if m.url is not None else f"{INLINE}{m.file}" for r, m in media.items()}


def decode_media(urls: Mapping[str, str]) -> dict[str, Media]:
    return {
        r: Media(file=Path(v[len(INLINE) :])) if v.startswith(INLINE) else Media(url=v)
        for r, v in urls.items()
    }
