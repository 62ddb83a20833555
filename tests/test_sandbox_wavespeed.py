"""The sandbox's WaveSpeedAI endpoints over real HTTP: submit, poll, upload, signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sandbox_support import Receiver

from preflight.sandbox import Sandbox, SandboxConfig

TEXT = "/api/v3/kwaivgi/kling-lipsync/text-to-video"
AUDIO = "/api/v3/kwaivgi/kling-lipsync/audio-to-video"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    config = SandboxConfig(
        clock_scale=0, submitted_seconds=1, processing_seconds=1, webhook_retry_seconds=0.01
    )
    with Sandbox(config) as sandbox:
        yield sandbox


@pytest.fixture
def ws(sb: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sb.wavespeed_api_key}"}
    with httpx.Client(base_url=sb.url, headers=headers) as client:
        yield client


def test_bearer_key_is_required(sb: Sandbox) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = httpx.post(f"{sb.url}{TEXT}", json={}, headers=headers)
        assert response.status_code == 401
    assert sb.wavespeed_api_key not in response.text


def test_text_to_video_with_defaults(
    sb: Sandbox, ws: httpx.Client, media: Callable[[str], Path]
) -> None:
    submitted = ws.post(TEXT, json={"video": sb.serve_file(media("ok")), "text": "Hello"})
    assert submitted.status_code == 200
    envelope = submitted.json()
    assert envelope["code"] == 200
    assert envelope["message"] == "success"
    data = envelope["data"]
    assert data["status"] == "created"
    assert data["outputs"] == []
    assert data["model"] == "kwaivgi/kling-lipsync/text-to-video"
    assert data["input"]["voice_id"] == "genshin_klee2"
    assert data["input"]["voice_language"] == "en"
    assert data["urls"]["get"] == f"{sb.url}/api/v3/predictions/{data['id']}/result"
    sb.advance(1)
    assert ws.get(data["urls"]["get"]).json()["data"]["status"] == "processing"
    sb.settle()
    done = ws.get(f"/api/v3/predictions/{data['id']}/result").json()["data"]
    assert done["status"] == "completed", done
    (output,) = done["outputs"]
    assert httpx.get(output).content[4:8] == b"ftyp"


def test_upload_then_audio_to_video(
    sb: Sandbox, ws: httpx.Client, media: Callable[[str], Path]
) -> None:
    video = media("ok")
    uploaded = ws.post(
        "/api/v3/media/upload/binary", files={"file": (video.name, video.read_bytes(), "video/mp4")}
    ).json()
    url = uploaded["data"]["download_url"]
    assert httpx.get(url).content == video.read_bytes()
    audio = ws.post(
        "/api/v3/media/upload/binary", files={"file": ("voice.mp3", media("mp3").read_bytes())}
    ).json()
    body = {"video": url, "audio": audio["data"]["download_url"]}
    assert ws.post(AUDIO, json=body).json()["code"] == 200
    (task,) = sb.settle()
    assert task.status == "succeed"
    assert task.provider == "wavespeed"


def test_upload_needs_a_file_field(ws: httpx.Client) -> None:
    response = ws.post("/api/v3/media/upload/binary", files={"other": ("x", b"1")})
    assert response.json()["code"] == 1400


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        (TEXT, {"text": "hi"}, 1400),
        (TEXT, {"video": "VIDEO", "text": "x" * 121}, 1401),
        (TEXT, {"video": "VIDEO", "text": "hi", "voice_speed": 0.5}, 1401),
        (AUDIO, {"video": "VIDEO"}, 1400),
        (TEXT, {"video": "VIDEO.missing", "text": "hi"}, 1402),
    ],
    ids=["no-video", "long-text", "slow-voice", "no-audio", "unreachable"],
)
def test_errors_use_wavespeed_codes(
    sb: Sandbox,
    ws: httpx.Client,
    media: Callable[[str], Path],
    path: str,
    body: dict[str, object],
    code: int,
) -> None:
    url = sb.serve_file(media("ok"))
    body = {k: (v.replace("VIDEO", url) if isinstance(v, str) else v) for k, v in body.items()}
    response = ws.post(path, json=body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert sb.tasks() == []


def test_unknown_model_and_prediction(ws: httpx.Client) -> None:
    assert ws.post("/api/v3/nobody/model", json={}).status_code == 404
    assert ws.get("/api/v3/predictions/abc/result").status_code == 404


def test_signed_webhook_on_completion(
    sb: Sandbox, ws: httpx.Client, media: Callable[[str], Path]
) -> None:
    with Receiver() as receiver:
        body = {"video": sb.serve_file(media("ok")), "text": "Hello"}
        task_id = ws.post(TEXT, params={"webhook": receiver.url}, json=body).json()["data"]["id"]
        sb.settle()
        ((headers, raw),) = receiver.wait(1)
    key = sb.wavespeed_webhook_secret.removeprefix("whsec_").encode()
    message = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + raw
    expected = "v3," + hmac.new(key, message, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["webhook-signature"], expected)
    assert receiver.bodies()[0]["id"] == task_id
    assert receiver.bodies()[0]["status"] == "completed"


def test_webhook_is_retried_up_to_three_times(
    sb: Sandbox, ws: httpx.Client, media: Callable[[str], Path]
) -> None:
    with Receiver(status=503) as receiver:
        body = {"video": sb.serve_file(media("ok")), "text": "Hello"}
        ws.post(TEXT, params={"webhook": receiver.url}, json=body)
        sb.settle()
        posts = receiver.wait(3)
        (delivery,) = sb.wait_for_callbacks(1)
    assert len(posts) == 3
    assert len({h["webhook-id"] for h, _ in posts}) == 1  # the same event, redelivered
    assert delivery["attempts"] == 3
    assert delivery["http_status"] == 503
