"""S3-compatible storage (AWS, Cloudflare R2, MinIO ...) with presigned GET URLs.

Needs the optional extra: ``pip install 'media-preflight[s3]'``. Credentials and region come from
boto3's usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, profiles, instance roles);
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``) points boto3 at a non-AWS server, in which case
path-style addressing is used (what MinIO and most S3-compatible servers expect).

Objects are content-addressed: ``PREFIX/<sha256>.<ext>``. A file already in the bucket under its
hash is not uploaded again; it only gets a fresh presigned URL.
"""

from __future__ import annotations

import mimetypes
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from preflight.model.errors import ConfigError, HostingError
from preflight.submitting.hosting import Hosted

__all__ = ["DEFAULT_EXPIRES_IN", "S3Host", "parse_s3_url"]

# a SigV4 presigned URL lives at most 7 days; a day is plenty for a provider to fetch the media
DEFAULT_EXPIRES_IN = 24 * 3600
MAX_EXPIRES_IN = 7 * 24 * 3600


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``. Raises ConfigError."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(f"--upload-to wants s3://BUCKET[/PREFIX], not {url!r}")
    return parts.netloc, parts.path.strip("/")


def _endpoint_url() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


class S3Host:
    """Upload to ``s3://bucket/prefix`` and hand out presigned GET URLs."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        expires_in: int = DEFAULT_EXPIRES_IN,
        client: Any = None,
        clock: Any = time.time,
    ) -> None:
        if not 1 <= expires_in <= MAX_EXPIRES_IN:
            raise ConfigError(f"presigned URLs live 1 s to 7 days, not {expires_in} s")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.expires_in = expires_in
        self.clock = clock
        self.endpoint_url = _endpoint_url()
        self._client = client if client is not None else self._make_client()

    def close(self) -> None:
        """Close the S3 client's connections."""
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> S3Host:
        bucket, prefix = parse_s3_url(url)
        return cls(bucket, prefix, **kwargs)

    def _make_client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise HostingError(
                "uploading to S3 needs boto3: pip install 'media-preflight[s3]'"
            ) from exc
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if self.endpoint_url else "auto"},
            retries={"max_attempts": 5, "mode": "standard"},
        )
        try:
            # a session of its own: credentials are read now, not cached from an earlier client
            session = boto3.session.Session()
            return session.client("s3", endpoint_url=self.endpoint_url, config=config)
        except Exception as exc:  # botocore raises many unrelated types here
            raise HostingError(f"cannot set up the S3 client: {type(exc).__name__}") from exc

    @property
    def target(self) -> str:
        where = self.endpoint_url or "aws"
        return f"s3://{self.bucket}/{self.prefix}@{where}"

    def key_for(self, path: Path, sha256: str) -> str:
        name = f"{sha256}{path.suffix.lower()}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def upload(self, path: Path, *, sha256: str) -> Hosted:
        key = self.key_for(path, sha256)
        try:
            if not self._exists(key):
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                self._client.upload_file(
                    str(path), self.bucket, key, ExtraArgs={"ContentType": content_type}
                )
            now = self.clock()
            url = self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=self.expires_in,
            )
        except HostingError:
            raise
        except OSError as exc:
            raise HostingError(f"cannot read {str(path)!r} to upload it: {exc.strerror}") from exc
        except Exception as exc:  # botocore's error tree is wide; none leaks a key
            raise HostingError(
                f"upload to s3://{self.bucket}/{key} failed: {_describe(exc)}"
            ) from exc
        return Hosted(str(url), now + self.expires_in)

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404 or exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                return False
            raise
        return True


def _describe(exc: Exception) -> str:
    """A short reason from a botocore error: the service's error code and message, no secrets."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code, message = error.get("Code"), error.get("Message")
        if code or message:
            return f"{code}: {message}" if message else str(code)
    name = type(exc).__name__
    if name == "S3UploadFailedError":  # "Failed to upload F to B/K: An error occurred (...)..."
        text = str(exc)
        at = text.find("An error occurred")
        return text[at:] if at >= 0 else name
    if name in {"NoCredentialsError", "PartialCredentialsError"}:
        return "no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or a profile)"
    if name in {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"}:
        return f"cannot reach the storage endpoint ({name})"
    return name
