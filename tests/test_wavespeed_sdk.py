"""The official ``wavespeed`` SDK (2.0.5) against the sandbox over real HTTP: its upload (the
instruction + PUT), its run (a kling-lipsync audio-to-video job on the uploaded URLs) and its
get_result. If the sandbox's wire format drifts from what the SDK speaks, this fails."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import wavespeed

from preflight.sandbox import Sandbox, SandboxConfig

MODEL = "kwaivgi/kling-lipsync/audio-to-video"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)) as sandbox:
        yield sandbox


def sdk(sb: Sandbox) -> wavespeed.Client:
    return wavespeed.Client(api_key=sb.wavespeed_api_key, base_url=sb.url, max_connection_retries=0)


def test_sdk_upload_run_and_get_result(sb: Sandbox, media: Callable[[str], Path]) -> None:
    client = sdk(sb)
    video_url = client.upload(str(media("ok")))
    with media("mp3").open("rb") as audio:  # a stream, as the SDK also accepts
        audio_url = client.upload(audio)
    assert video_url.startswith(sb.url)
    assert httpx.get(audio_url).content == media("mp3").read_bytes()
    uploads = sb.uploads()
    assert [(u["content_type"], u["stored"]) for u in uploads] == [
        ("video/mp4", True),
        ("audio/mpeg", True),
    ]
    assert all(u["refused"] == [] for u in uploads)

    output = client.run(MODEL, {"video": video_url, "audio": audio_url}, poll_interval=0.05)
    (url,) = output["outputs"]
    assert httpx.get(url).content[4:8] == b"ftyp"

    (task,) = sb.tasks("wavespeed")
    assert task.params == {"video": video_url, "audio": audio_url}
    result = client.get_result(task.id)
    assert result["code"] == 200
    assert result["data"]["status"] == "completed"
    assert result["data"]["outputs"] == [url]


def test_sdk_run_fails_on_a_refused_upload_url(sb: Sandbox, media: Callable[[str], Path]) -> None:
    """An uploaded clip that breaks the limits (1 s) is refused at submit, as the real host does."""
    client = sdk(sb)
    short = client.upload(str(media("short")))
    audio = client.upload(str(media("mp3")))
    with pytest.raises(RuntimeError, match="HTTP 400"):
        client.run(MODEL, {"video": short, "audio": audio}, poll_interval=0.05)
    assert sb.tasks() == []


def test_sdk_upload_above_the_cap_is_refused_before_any_byte(
    media: Callable[[str], Path],
) -> None:
    video = media("ok")
    config = SandboxConfig(upload_max_bytes=video.stat().st_size - 1)
    with Sandbox(config) as small:
        with pytest.raises(RuntimeError, match="HTTP 413"):
            sdk(small).upload(str(video))
        assert small.uploads() == []  # refused at the instruction: no PUT URL was handed out
