"""The sandbox's WaveSpeedAI endpoints over real HTTP: submit, poll, upload, signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


# --- the current upload: an instruction, then a PUT to a presigned-style URL ---------------------
UPLOADS = "/api/v3/media/uploads"


def _ticket(ws: httpx.Client, path: Path, content_type: str | None = "video/mp4") -> dict[str, Any]:
    body: dict[str, Any] = {"filename": path.name, "size": path.stat().st_size}
    if content_type:
        body["content_type"] = content_type
    response = ws.post(UPLOADS, json=body)
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert envelope["code"] == 200
    data: dict[str, Any] = envelope["data"]
    return data


def test_upload_instruction_then_put_then_audio_to_video(
    sb: Sandbox, ws: httpx.Client, media: Callable[[str], Path]
) -> None:
    video, audio = media("ok"), media("mp3")
    urls = []
    for path, content_type in ((video, "video/mp4"), (audio, "audio/mpeg")):
        data = _ticket(ws, path, content_type)
        upload = data["upload"]
        assert upload["method"] == "PUT"
        assert upload["headers"] == {"Content-Type": content_type}
        assert httpx.get(data["download_url"]).status_code == 404  # nothing there before the PUT
        put = httpx.put(upload["url"], content=path.read_bytes(), headers=upload["headers"])
        assert put.status_code == 200, put.text
        assert put.headers["etag"] == f'"{hashlib.md5(path.read_bytes()).hexdigest()}"'
        assert httpx.get(data["download_url"]).content == path.read_bytes()
        urls.append(data["download_url"])
    assert ws.post(AUDIO, json={"video": urls[0], "audio": urls[1]}).json()["code"] == 200
    (task,) = sb.settle()
    assert task.status == "succeed"
    assert [u["stored"] for u in sb.uploads()] == [True, True]


def test_a_create_is_judged_on_the_uploaded_bytes(
    sb: Sandbox, ws: httpx.Client, media: Callable[[str], Path]
) -> None:
    """The URL serves what was PUT: a 1 s clip uploaded as the video is refused (2 s at least)."""
    short = media("short")
    data = _ticket(ws, short)
    httpx.put(data["upload"]["url"], content=short.read_bytes(), headers=data["upload"]["headers"])
    response = ws.post(TEXT, json={"video": data["download_url"], "text": "Hello"})
    assert response.status_code == 400
    assert response.json()["code"] == 1401
    assert "lasts 1.00 s" in response.json()["message"]
    assert sb.tasks() == []


@pytest.mark.parametrize(
    ("change", "status", "why"),
    [
        ({"headers": {"Content-Type": "video/quicktime"}}, 403, "SignatureDoesNotMatch"),
        ({"headers": {}}, 403, "SignatureDoesNotMatch"),  # the signed Content-Type left out
        ({"content": b"x" * 10}, 403, "SignatureDoesNotMatch"),  # another size
        ({"auth": True}, 400, "InvalidArgument"),  # a second auth mechanism
        ({"token": "forged"}, 403, "AccessDenied"),
        ({"advance": 901}, 403, "Request has expired"),
    ],
    ids=["other-type", "no-type", "other-size", "bearer-sent", "unknown-token", "expired"],
)
def test_put_is_refused_like_a_presigned_url(
    sb: Sandbox,
    ws: httpx.Client,
    media: Callable[[str], Path],
    change: dict[str, Any],
    status: int,
    why: str,
) -> None:
    video = media("ok")
    data = _ticket(ws, video)
    url = data["upload"]["url"]
    headers = dict(change.get("headers", data["upload"]["headers"]))
    if change.get("auth"):
        headers["Authorization"] = f"Bearer {sb.wavespeed_api_key}"
    if "token" in change:
        url = url.rsplit("/", 1)[0] + "/" + change["token"]
    if "advance" in change:
        sb.advance(change["advance"])
    put = httpx.put(url, content=change.get("content", video.read_bytes()), headers=headers)
    assert put.status_code == status
    assert why in put.text
    assert put.headers["content-type"] == "application/xml"
    assert httpx.get(data["download_url"]).status_code == 404
    (record,) = sb.uploads()
    assert record["stored"] is False


def test_put_without_a_length_is_refused(
    sb: Sandbox, ws: httpx.Client, media: Callable[[str], Path]
) -> None:
    video = media("ok")
    data = _ticket(ws, video)
    chunked = httpx.put(
        data["upload"]["url"], content=iter([video.read_bytes()]), headers=data["upload"]["headers"]
    )
    assert chunked.status_code == 411
    assert "MissingContentLength" in chunked.text


def test_a_repeated_put_replaces_the_bytes(
    sb: Sandbox, ws: httpx.Client, media: Callable[[str], Path]
) -> None:
    video = media("ok")
    data = _ticket(ws, video)
    for _ in range(2):
        put = httpx.put(
            data["upload"]["url"], content=video.read_bytes(), headers=data["upload"]["headers"]
        )
        assert put.status_code == 200
    assert httpx.get(data["download_url"]).content == video.read_bytes()


def test_no_content_type_declared_needs_none(
    sb: Sandbox, ws: httpx.Client, media: Callable[[str], Path]
) -> None:
    video = media("ok")
    data = _ticket(ws, video, content_type=None)
    assert data["upload"]["headers"] == {}
    put = httpx.put(data["upload"]["url"], content=video.read_bytes())
    assert put.status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"filename": "a.mp4"}, 400, 1400),
        ({"filename": "", "size": 10}, 400, 1401),
        ({"filename": "a.mp4", "size": 0}, 400, 1401),
        ({"filename": "a.mp4", "size": "10"}, 400, 1401),
        ({"filename": "a.mp4", "size": True}, 400, 1401),
        ({"filename": "a.mp4", "size": 10, "content_type": 5}, 400, 1401),
        ({"filename": "a.mp4", "size": 200_000_001}, 413, 413),
    ],
    ids=["no-size", "empty-name", "zero", "string-size", "bool-size", "bad-type", "over-cap"],
)
def test_upload_instruction_errors(
    sb: Sandbox, ws: httpx.Client, body: dict[str, Any], status: int, code: int
) -> None:
    response = ws.post(UPLOADS, json=body)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert sb.uploads() == []


def test_upload_instruction_needs_the_key(sb: Sandbox) -> None:
    response = httpx.post(f"{sb.url}{UPLOADS}", json={"filename": "a.mp4", "size": 1})
    assert response.status_code == 401


def test_older_deployment_answers_404() -> None:
    with Sandbox(SandboxConfig(wavespeed_upload_tickets=False)) as old:
        headers = {"Authorization": f"Bearer {old.wavespeed_api_key}"}
        response = httpx.post(
            f"{old.url}{UPLOADS}", json={"filename": "a.mp4", "size": 1}, headers=headers
        )
    assert response.status_code == 404
