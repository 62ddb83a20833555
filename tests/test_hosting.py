"""Hosting local media: S3 presigned URLs against a real S3 server on loopback, the upload
cache kept in the ledger, and audio inlined as base64."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import boto3
import httpx
import pytest

from preflight.model.errors import ConfigError, HostingError
from preflight.submitting.hosting import host_file
from preflight.submitting.hosting.inline import inline_base64
from preflight.submitting.hosting.s3 import S3Host, parse_s3_url
from preflight.submitting.ledger import Ledger, file_sha256


class Clock:
    def __init__(self) -> None:
        self.now = 2_000_000_000.0

    def __call__(self) -> float:
        return self.now


def objects(bucket: str) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=bucket)
    return [o["Key"] for o in listing.get("Contents", [])]


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    assert parse_s3_url("s3://bucket/a/b/") == ("bucket", "a/b")
    with pytest.raises(ConfigError, match="s3://BUCKET"):
        parse_s3_url("https://bucket/a")
    with pytest.raises(ConfigError, match="7 days"):
        S3Host("b", expires_in=8 * 24 * 3600, client=object())


def test_s3_upload_gives_a_presigned_url_that_serves_the_bytes(
    s3_bucket: str, tmp_path: Path
) -> None:
    clip = tmp_path / "My Clip.MP4"
    clip.write_bytes(os.urandom(200_000))
    host = S3Host.from_url(f"s3://{s3_bucket}/media/in", expires_in=600)
    hosted = host.upload(clip, sha256=file_sha256(clip))
    assert objects(s3_bucket) == [f"media/in/{file_sha256(clip)}.mp4"]
    assert "X-Amz-Signature=" in hosted.url
    assert hosted.expires_at is not None
    response = httpx.get(hosted.url)
    assert response.status_code == 200
    assert response.content == clip.read_bytes()
    assert response.headers["content-type"] == "video/mp4"
    # an unsigned URL to the same object is refused: the bucket need not be public
    assert httpx.get(hosted.url.split("?")[0]).status_code == 403


def test_the_same_content_is_not_uploaded_twice(s3_bucket: str, tmp_path: Path) -> None:
    clock = Clock()
    ledger = Ledger(tmp_path / "l.db", clock=clock)
    host = S3Host(s3_bucket, "p", expires_in=7200, clock=clock)
    a = tmp_path / "a.mp4"
    a.write_bytes(b"same bytes" * 1000)
    first = host_file(host, a, ledger, min_valid=3600)
    assert not first.cached
    s3 = boto3.client("s3")
    stamp = s3.head_object(Bucket=s3_bucket, Key=objects(s3_bucket)[0])["LastModified"]

    copy = tmp_path / "copy with another name.mp4"
    copy.write_bytes(a.read_bytes())
    second = host_file(host, copy, ledger, min_valid=3600)
    assert second.cached
    assert second.url == first.url

    # once the cached URL would expire too soon, a fresh URL is signed; the object stays put
    clock.now += 3601
    third = host_file(host, a, ledger, min_valid=3600)
    assert not third.cached
    assert third.expires_at is not None
    assert third.expires_at > (first.expires_at or 0)
    assert objects(s3_bucket) == [f"p/{file_sha256(a)}.mp4"]
    assert s3.head_object(Bucket=s3_bucket, Key=objects(s3_bucket)[0])["LastModified"] == stamp

    other = tmp_path / "b.mp4"
    other.write_bytes(b"other bytes")
    host_file(host, other, ledger)
    assert len(objects(s3_bucket)) == 2


def test_s3_errors_are_clear_and_hold_no_secret(
    s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = tmp_path / "c.mp4"
    clip.write_bytes(b"x")
    with pytest.raises(HostingError, match="NoSuchBucket") as info:
        S3Host("no-such-bucket-here").upload(clip, sha256=file_sha256(clip))
    assert "testing" not in str(info.value)
    with pytest.raises(HostingError, match="cannot read"):
        S3Host(s3_bucket).upload(tmp_path / "gone.mp4", sha256="0" * 64)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(HostingError, match="no AWS credentials"):
        S3Host(s3_bucket).upload(clip, sha256=file_sha256(clip))


def test_inline_base64(media, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    audio = media("mp3")
    text = inline_base64(audio)
    assert not text.startswith("data:")
    assert base64.b64decode(text) == audio.read_bytes()
    with pytest.raises(HostingError, match="at most 10"):
        inline_base64(audio, max_bytes=10)
    with pytest.raises(HostingError, match="cannot read"):
        inline_base64(tmp_path / "none.mp3")
