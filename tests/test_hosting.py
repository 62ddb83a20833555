"""Hosting local media: S3 presigned URLs against a real S3 server on loopback, the upload
cache kept in the ledger, and audio inlined as base64."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path

import boto3
import httpx
import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.client import WaveSpeedClient
from preflight.model.errors import ConfigError, HostingError
from preflight.sandbox import Sandbox, SandboxConfig
from preflight.submitting.hosting import host_file
from preflight.submitting.hosting.inline import inline_base64
from preflight.submitting.hosting.provider import ASSUMED_TTL, ProviderHost
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


# --- WaveSpeed's own upload, through the client, over both routes --------------------------------
@pytest.mark.parametrize("tickets", [True, False], ids=["instruction+put", "binary-only"])
def test_wavespeed_host_uploads_the_same_content_once(
    tickets: bool, media: Callable[[str], Path], tmp_path: Path
) -> None:
    clock = Clock()
    ledger = Ledger(tmp_path / "l.db", clock=clock)
    clip = tmp_path / "a.mp4"
    clip.write_bytes(media("ok").read_bytes())
    copy = tmp_path / "copy of a.mp4"
    copy.write_bytes(clip.read_bytes())
    config = SandboxConfig(clock_scale=0, wavespeed_upload_tickets=tickets)
    sent: list[str] = []  # requests that carried the bytes (a PUT, or a binary upload)

    def count(request: httpx.Request) -> None:
        if request.method == "PUT" or request.url.path.endswith("/upload/binary"):
            sent.append(request.url.path)

    with (
        Sandbox(config) as sb,
        httpx.Client(event_hooks={"request": [count]}) as http,
        WaveSpeedClient(sb.wavespeed_api_key, base_url=sb.url, http_client=http) as client,
    ):
        host = ProviderHost(client, "wavespeed", "WaveSpeed", clock=clock)
        first = host_file(host, clip, ledger)
        second = host_file(host, copy, ledger)
        assert httpx.get(first.url).content == clip.read_bytes()
        assert (first.cached, second.cached) == (False, True)
        assert second.url == first.url
        assert len(sent) == 1
        clock.now += ASSUMED_TTL  # the cached URL is no longer trusted: uploaded again
        third = host_file(host, clip, ledger)
        assert not third.cached
        assert (third.expires_at or 0) > (first.expires_at or 0)
        assert httpx.get(third.url).content == clip.read_bytes()
        assert len(sent) == 2
        assert len(sb.uploads()) == (2 if tickets else 0)


def test_wavespeed_host_failure_is_a_hosting_error(
    media: Callable[[str], Path], tmp_path: Path
) -> None:
    clip = media("ok")
    config = SandboxConfig(clock_scale=0, upload_max_bytes=clip.stat().st_size - 1)
    with (
        Sandbox(config) as sb,
        WaveSpeedClient(sb.wavespeed_api_key, base_url=sb.url) as client,
        pytest.raises(HostingError, match="larger than") as info,
    ):
        ProviderHost(client, "wavespeed", "WaveSpeed").upload(clip, sha256=file_sha256(clip))
    assert sb.wavespeed_api_key not in str(info.value)


def test_submit_to_wavespeed_uploads_local_media_once_per_content(
    media: Callable[[str], Path], tmp_path: Path
) -> None:
    """Two jobs on one clip (different audio): the clip goes up once, through the new route."""
    video = tmp_path / "clip.mp4"
    video.write_bytes(media("ok").read_bytes())
    runner = CliRunner()
    with Sandbox(SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)) as sb:
        env = {**sb.environment(), "PREFLIGHT_LEDGER": str(tmp_path / "ledger.sqlite3")}
        for audio in ("mp3", "m4a"):
            argv = [
                "submit", "--no-face", "-q", str(video), "--audio", str(media(audio)),
                "--provider", "wavespeed", "-o", str(tmp_path / f"{audio}.mp4"),
            ]  # fmt: skip
            result = runner.invoke(main, argv, env=env)
            assert result.exit_code == 0, result.output
            assert (tmp_path / f"{audio}.mp4").stat().st_size > 0
        uploads = sb.uploads()
        tasks = sb.tasks("wavespeed")
    assert sorted(u["name"].rsplit("/", 1)[1] for u in uploads) == [
        "clip.mp4",
        "voice.m4a",
        "voice.mp3",
    ]
    assert all(u["stored"] and not u["refused"] for u in uploads)
    assert tasks[0].params["video"] == tasks[1].params["video"]  # the cached URL, reused
    assert tasks[0].params["audio"] != tasks[1].params["audio"]
