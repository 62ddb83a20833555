"""``s3://bucket/key`` inputs and outputs, for work that runs where no local path is shared.

Needs the optional extra ``pip install 'media-preflight[s3]'``. Credentials, region and endpoint
come from boto3's usual chain; ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``) points at an
S3-compatible server, addressed path-style (what MinIO and moto expect).

`check` never downloads an object: `probe_s3` presigns a short-lived GET URL and hands it to the
ordinary ``http(s)`` probe, which reads only the byte ranges the parser asks for. The facts (and
any error) name the ``s3://`` URI, never the presigned URL: its query string carries a signature
and the access key id. `fix` needs the whole file, so it downloads to a worker-local temp file,
and `upload` puts the verified output in one PutObject: an S3 object appears whole or not at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from typing import Any
from urllib.parse import urlsplit

from preflight.model.errors import ConfigError, InputError
from preflight.model.facts import MediaFacts

__all__ = [
    "copy",
    "download",
    "exists",
    "is_s3",
    "join",
    "list_prefix",
    "object_tag",
    "object_tags",
    "parse",
    "probe_s3",
    "read_text",
    "upload",
    "write_text",
]

PRESIGN_SECONDS = 900  # long enough for one probe, short enough to be worthless if it leaked


def is_s3(source: str | os.PathLike[str] | None) -> bool:
    """True for ``s3://`` URIs (any case)."""
    return source is not None and os.fspath(source).lower().startswith("s3://")


def parse(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> ``("bucket", "some/key")``. Raises ConfigError."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != "s3" or not parts.netloc:
        raise ConfigError(f"not an s3://BUCKET/KEY URI: {uri!r}")
    return parts.netloc, parts.path.lstrip("/")


def join(prefix_uri: str, name: str) -> str:
    """``s3://b/p`` + ``x.mp4`` -> ``s3://b/p/x.mp4``."""
    bucket, prefix = parse(prefix_uri)
    prefix = prefix.strip("/")
    return f"s3://{bucket}/{prefix}/{name}" if prefix else f"s3://{bucket}/{name}"


def _client() -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise ConfigError(
            "s3:// inputs and outputs need boto3: pip install 'media-preflight[s3]'"
        ) from exc
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint else "auto"},
        retries={"max_attempts": 5, "mode": "standard"},
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)


_REASONS = {
    "404": "no such object",
    "NoSuchKey": "no such object",
    "403": "access denied",
    "AccessDenied": "access denied",
    "NoSuchBucket": "no such bucket",
}


def _why(exc: Exception) -> str:
    """A botocore failure as a short reason: its error code, never a URL or a credential."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = str(error.get("Code", "")) or type(exc).__name__
        return _REASONS.get(code, code)
    return type(exc).__name__


def probe_s3(uri: str, *, backend: str = "auto") -> MediaFacts:
    """Probe an object with range reads through a presigned URL. Raises InputError."""
    from preflight.probing import probe

    bucket, key = parse(uri)
    client = _client()
    try:
        client.head_object(Bucket=bucket, Key=key)  # a clear "no such object" before any probe
        url = client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=PRESIGN_SECONDS
        )
    except Exception as exc:  # noqa: BLE001 - botocore raises many types; the code is the reason
        raise InputError(f"cannot read it from S3: {_why(exc)}", source=uri) from None
    finally:
        client.close()
    try:
        facts = probe(url, backend=backend)
    except InputError as exc:
        message = str(exc).replace(url, uri).replace(url.split("?", 1)[0], uri)
        raise InputError(message, source=uri) from None
    return dataclasses.replace(facts, source=uri)


def object_tag(uri: str) -> str:
    """A content key for an object without reading it: its size and ETag (the MD5 of a
    single-part upload; a multipart ETag changes whenever the bytes do too)."""
    bucket, key = parse(uri)
    client = _client()
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read it from S3: {_why(exc)}", source=uri) from None
    finally:
        client.close()
    return f"{head.get('ContentLength', 0)}-{str(head.get('ETag', '')).strip(chr(34))}"


def object_tags(uris: list[str], *, threads: int = 16) -> dict[str, str]:
    """`object_tag` of many objects (HEADs in parallel, one client); unreadable ones left out."""
    from concurrent.futures import ThreadPoolExecutor

    if not uris:
        return {}
    client = _client()

    def tag(uri: str) -> str | None:
        bucket, key = parse(uri)
        try:
            head = client.head_object(Bucket=bucket, Key=key)
        except Exception:  # noqa: BLE001 - its own item says why it cannot be read
            return None
        return f"{head.get('ContentLength', 0)}-{str(head.get('ETag', '')).strip(chr(34))}"

    try:
        with ThreadPoolExecutor(max_workers=min(threads, len(uris))) as pool:
            found = dict(zip(uris, pool.map(tag, uris), strict=True))
    finally:
        client.close()
    return {uri: t for uri, t in found.items() if t is not None}


def copy(source: str, target: str) -> None:
    """Server-side copy of one object to another (CopyObject: whole or not at all). Skipped when
    ``target`` already holds the same bytes (same size and ETag). Raises OSError."""
    bucket, key = parse(target)
    src_bucket, src_key = parse(source)
    client = _client()
    try:
        head = client.head_object(Bucket=src_bucket, Key=src_key)
        with contextlib.suppress(Exception):
            there = client.head_object(Bucket=bucket, Key=key)
            if (there.get("ETag"), there.get("ContentLength")) == (
                head.get("ETag"),
                head.get("ContentLength"),
            ):
                return
        client.copy_object(
            Bucket=bucket, Key=key, CopySource={"Bucket": src_bucket, "Key": src_key}
        )
    except Exception as exc:  # noqa: BLE001
        raise OSError(f"cannot copy {source} to {target}: {_why(exc)}") from None
    finally:
        client.close()


def download(uri: str, path: str) -> None:
    """Copy the object to ``path`` (a worker-local temp file). Raises InputError."""
    bucket, key = parse(uri)
    client = _client()
    try:
        client.download_file(bucket, key, path)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot download it from S3: {_why(exc)}", source=uri) from None
    finally:
        client.close()


def upload(path: str, uri: str) -> None:
    """Put ``path`` at ``uri``: one PutObject, so readers see the whole object or none."""
    bucket, key = parse(uri)
    client = _client()
    try:
        with open(path, "rb") as fh:
            client.put_object(Bucket=bucket, Key=key, Body=fh, ContentType="video/mp4")
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise OSError(f"cannot upload to {uri}: {_why(exc)}") from None
    finally:
        client.close()


def exists(uri: str) -> bool:
    """True when the object is there (any failure to look counts as absent)."""
    bucket, key = parse(uri)
    client = _client()
    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except Exception:  # noqa: BLE001 - absent, or unreadable: either way it must be redone
        return False
    finally:
        client.close()


def read_text(uri: str) -> str | None:
    """The object's text, or None when it cannot be read."""
    bucket, key = parse(uri)
    client = _client()
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body.decode("utf-8")  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - a missing marker means "not done yet"
        return None
    finally:
        client.close()


def write_text(uri: str, text: str) -> None:
    """Put a small text object (one PutObject)."""
    bucket, key = parse(uri)
    client = _client()
    try:
        client.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))
    except Exception as exc:  # noqa: BLE001
        raise OSError(f"cannot write {uri}: {_why(exc)}") from None
    finally:
        client.close()


def list_prefix(uri: str) -> list[str]:
    """Every object under ``s3://bucket/prefix/`` as a URI, sorted. Raises ConfigError."""
    bucket, prefix = parse(uri)
    client = _client()
    found: list[str] = []
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            found.extend(f"s3://{bucket}/{o['Key']}" for o in page.get("Contents", ()))
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"cannot list {uri}: {_why(exc)}") from None
    finally:
        client.close()
    return sorted(found)
