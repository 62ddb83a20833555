"""The sandbox's Kling endpoints over real HTTP: auth codes, envelope, lifecycle, validation."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_support import Receiver, kling_token

from preflight.sandbox import Sandbox, SandboxConfig

WRONG_SECRET = "a-wrong-secret-that-is-long-enough-for-hs256"
VOICE = {"voice_id": "genshin_klee2", "voice_language": "en"}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    """A sandbox whose clock stands still: only advance()/settle() move tasks on."""
    config = SandboxConfig(clock_scale=0, submitted_seconds=1, processing_seconds=2)
    with Sandbox(config) as sandbox:
        yield sandbox


@pytest.fixture
def kling(sb: Sandbox) -> Iterator[httpx.Client]:
    token = kling_token(sb.kling_access_key, sb.kling_secret_key)
    with httpx.Client(base_url=sb.url, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def video_url(sb: Sandbox, media: Callable[[str], Path]) -> str:
    return sb.serve_file(media("ok"))


def text_body(video_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "input": {"video_url": video_url, "mode": "text2video", "text": "Hello", **VOICE},
        **extra,
    }


def ffprobe_json(ffprobe: str, data: bytes, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "result.mp4"
    path.write_bytes(data)
    out = subprocess.run(
        [
            ffprobe,
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
            str(path),
        ],
        capture_output=True,
        check=True,
        text=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


# -- auth -------------------------------------------------------------------------------------


def test_missing_authorization_is_1001(sb: Sandbox) -> None:
    response = httpx.get(f"{sb.url}/v1/videos/lip-sync/1")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == 1001
    assert set(body) == {"code", "message", "request_id", "data"}


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda sb: "Bearer not-a-jwt", 1002),
        (lambda sb: "Basic abc", 1002),
        (
            lambda sb: "Bearer " + kling_token(sb.kling_access_key, WRONG_SECRET),
            1002,
        ),
        (lambda sb: "Bearer " + kling_token("someone-else", sb.kling_secret_key), 1000),
        (
            lambda sb: (
                "Bearer "
                + kling_token(sb.kling_access_key, sb.kling_secret_key, nbf=int(time.time()) + 600)
            ),
            1003,
        ),
        (
            lambda sb: (
                "Bearer "
                + kling_token(sb.kling_access_key, sb.kling_secret_key, exp=int(time.time()) - 10)
            ),
            1004,
        ),
    ],
    ids=["garbage", "not-bearer", "bad-signature", "unknown-iss", "nbf-future", "expired"],
)
def test_refused_tokens_get_the_documented_code(
    sb: Sandbox, make: Callable[[Sandbox], str], code: int
) -> None:
    response = httpx.get(f"{sb.url}/v1/videos/lip-sync", headers={"Authorization": make(sb)})
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert sb.kling_secret_key not in response.text


def test_expire_next_tokens_fault_answers_1004_once(sb: Sandbox, kling: httpx.Client) -> None:
    sb.set_faults(expire_next_tokens=1)
    assert kling.get("/v1/videos/lip-sync").json()["code"] == 1004
    assert kling.get("/v1/videos/lip-sync").json()["code"] == 0


# -- lifecycle and results --------------------------------------------------------------------


def test_text2video_lifecycle_on_the_clock(
    sb: Sandbox, kling: httpx.Client, video_url: str, ffprobe_bin: str, tmp_path: Path
) -> None:
    created = kling.post("/v1/videos/lip-sync", json=text_body(video_url))
    assert created.status_code == 200
    envelope = created.json()
    assert envelope["code"] == 0
    assert envelope["request_id"]
    data = envelope["data"]
    task_id = data["task_id"]
    assert isinstance(task_id, str)
    assert task_id.isdigit()
    assert len(task_id) >= 18
    assert data["task_status"] == "submitted"
    assert isinstance(data["created_at"], int)

    def status() -> dict[str, Any]:
        got: dict[str, Any] = kling.get(f"/v1/videos/lip-sync/{task_id}").json()["data"]
        return got

    assert status()["task_status"] == "submitted"
    sb.advance(1)
    assert status()["task_status"] == "processing"
    sb.advance(2)
    done = status()
    assert done["task_status"] == "succeed"
    assert done["task_info"]["parent_video"]["url"] == video_url
    (video,) = done["task_result"]["videos"]
    assert float(video["duration"]) == pytest.approx(4.0, abs=0.1)
    assert done["updated_at"] - done["created_at"] == 3000  # sandbox-clock milliseconds
    probed = ffprobe_json(ffprobe_bin, httpx.get(video["url"]).content, tmp_path)
    kinds = sorted(s["codec_type"] for s in probed["streams"])
    assert kinds == ["audio", "video"]
    assert float(probed["format"]["duration"]) == pytest.approx(4.0, abs=0.2)


def test_audio2video_by_base64_muxes_that_audio(
    sb: Sandbox,
    kling: httpx.Client,
    video_url: str,
    media: Callable[[str], Path],
    ffprobe_bin: str,
    tmp_path: Path,
) -> None:
    audio = base64.b64encode(media("mp3").read_bytes()).decode()
    body = {
        "input": {
            "video_url": video_url,
            "mode": "audio2video",
            "audio_type": "file",
            "audio_file": audio,
        }
    }
    created = kling.post("/v1/videos/lip-sync", json=body).json()
    assert created["code"] == 0, created
    (task,) = sb.settle()
    assert task.status == "succeed"
    assert "audio_file" not in task.params  # the base64 is not kept
    assert task.result_url is not None
    probed = ffprobe_json(ffprobe_bin, httpx.get(task.result_url).content, tmp_path)
    audio_stream = next(s for s in probed["streams"] if s["codec_type"] == "audio")
    assert audio_stream["sample_rate"] == "44100"  # the tone in voice.mp3, not the clip's 48 kHz


def test_audio2video_by_url(
    sb: Sandbox, kling: httpx.Client, video_url: str, media: Callable[[str], Path]
) -> None:
    body = {
        "input": {
            "video_url": video_url,
            "mode": "audio2video",
            "audio_type": "url",
            "audio_url": sb.serve_file(media("wav")),
        }
    }
    assert kling.post("/v1/videos/lip-sync", json=body).json()["code"] == 0
    assert [t.status for t in sb.settle()] == ["succeed"]


def test_lip_sync_of_a_kling_video_id(sb: Sandbox, kling: httpx.Client, video_url: str) -> None:
    first = kling.post("/v1/videos/lip-sync", json=text_body(video_url)).json()["data"]
    sb.settle()
    result = kling.get(f"/v1/videos/lip-sync/{first['task_id']}").json()["data"]
    video_id = result["task_result"]["videos"][0]["id"]
    body = {"input": {"video_id": video_id, "mode": "text2video", "text": "Again", **VOICE}}
    second = kling.post("/v1/videos/lip-sync", json=body).json()
    assert second["code"] == 0
    assert second["data"]["task_info"]["parent_video"]["id"] == video_id


def test_fail_every_ends_tasks_failed_with_a_reason(
    sb: Sandbox, kling: httpx.Client, video_url: str
) -> None:
    sb.set_faults(fail_every=2)
    ids = [
        kling.post("/v1/videos/lip-sync", json=text_body(video_url)).json()["data"]["task_id"]
        for _ in range(2)
    ]
    sb.settle()
    first, second = (kling.get(f"/v1/videos/lip-sync/{i}").json()["data"] for i in ids)
    assert first["task_status"] == "succeed"
    assert second["task_status"] == "failed"
    assert "no human" in second["task_status_msg"]
    assert second["task_result"]["videos"] == []


def test_unknown_task_is_1203(kling: httpx.Client) -> None:
    response = kling.get("/v1/videos/lip-sync/123456789012345678")
    assert response.status_code == 404
    assert response.json()["code"] == 1203


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda url: {"video_url": url, "mode": "text2video", "text": "hi", **VOICE}, "inside"),
        (lambda url: {"input": {"mode": "text2video", "text": "hi", **VOICE}}, "video_url"),
        (lambda url: {"input": {"video_url": url, "mode": "lipsync"}}, "mode"),
        (
            lambda url: {
                "input": {"video_url": url, "mode": "text2video", "text": "x" * 121, **VOICE}
            },
            "longer than 120 characters",
        ),
        (lambda url: {"input": {"video_url": url, "mode": "text2video", "text": "hi"}}, "voice_id"),
        (
            lambda url: {
                "input": {
                    "video_url": url,
                    "mode": "text2video",
                    "text": "hi",
                    "voice_id": "nobody",
                }
            },
            "voice_id 'nobody'",
        ),
        (
            lambda url: {
                "input": {
                    "video_url": url,
                    "mode": "text2video",
                    "text": "hi",
                    **VOICE,
                    "voice_speed": 2.5,
                }
            },
            "voice_speed 2.5 is outside 0.8-2",
        ),
        (
            lambda url: {
                "input": {
                    "video_url": url,
                    "mode": "text2video",
                    "text": "hi",
                    **VOICE,
                    "audio_type": "url",
                    "audio_url": url,
                }
            },
            "not audio",
        ),
        (lambda url: {"input": {"video_url": url, "mode": "audio2video"}}, "audio_type"),
        (
            lambda url: {
                "input": {
                    "video_url": url,
                    "mode": "audio2video",
                    "audio_type": "file",
                    "audio_file": "data:audio/mp3;base64,AAAA",
                }
            },
            "data:",
        ),
        (
            lambda url: {
                "input": {
                    "video_url": url,
                    "mode": "audio2video",
                    "audio_type": "file",
                    "audio_file": "%%% not base64",
                }
            },
            "base64",
        ),
        (
            lambda url: {
                "input": {
                    "video_url": url,
                    "mode": "audio2video",
                    "audio_type": "file",
                    "audio_file": base64.b64encode(b"\0" * (5 * 2**20 + 1)).decode(),
                }
            },
            "larger than 5000000 bytes",
        ),
        (
            lambda url: {
                "input": {
                    "video_url": url + ".missing",
                    "mode": "text2video",
                    "text": "hi",
                    **VOICE,
                }
            },
            "HTTP 404",
        ),
    ],
    ids=[
        "flat-body",
        "no-video",
        "bad-mode",
        "long-text",
        "no-voice",
        "unknown-voice",
        "fast-voice",
        "text-and-audio",
        "no-audio-type",
        "data-prefix",
        "bad-base64",
        "audio-too-big",
        "video-404",
    ],
)
def test_refused_bodies_are_1201_with_a_reason(
    sb: Sandbox, kling: httpx.Client, video_url: str, make: Callable[[str], Any], words: str
) -> None:
    response = kling.post("/v1/videos/lip-sync", json=make(video_url))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 1201
    assert words in body["message"]
    assert sb.tasks() == []


@pytest.mark.parametrize(
    ("clip", "words"),
    [
        ("short", "it must last 2-10 s"),
        ("small", "each side must be 720-1920 px"),
        ("mkv", "video format is matroska"),
        ("noaudio", None),
    ],
)
def test_video_is_fetched_and_probed(
    sb: Sandbox, kling: httpx.Client, media: Callable[[str], Path], clip: str, words: str | None
) -> None:
    response = kling.post("/v1/videos/lip-sync", json=text_body(sb.serve_file(media(clip))))
    if words is None:  # a silent clip is fine: the voice replaces the audio
        assert response.json()["code"] == 0
        return
    assert response.json()["code"] == 1201
    assert words in response.json()["message"]


def test_not_json_is_refused(kling: httpx.Client) -> None:
    response = kling.post("/v1/videos/lip-sync", content=b"{nope")
    assert response.json()["code"] == 1201


# -- listing ----------------------------------------------------------------------------------


def test_list_pages_newest_first(sb: Sandbox, kling: httpx.Client, video_url: str) -> None:
    created = [
        kling.post("/v1/videos/lip-sync", json=text_body(video_url)).json()["data"]["task_id"]
        for _ in range(5)
    ]
    pages = [
        kling.get("/v1/videos/lip-sync", params={"pageNum": n, "pageSize": 2}).json()["data"]
        for n in (1, 2, 3, 4)
    ]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    listed = [t["task_id"] for page in pages for t in page]
    assert listed == created[::-1]
    default = kling.get("/v1/videos/lip-sync").json()["data"]
    assert len(default) == 5


@pytest.mark.parametrize("params", [{"pageNum": 0}, {"pageSize": 501}, {"pageNum": "x"}])
def test_list_bounds(kling: httpx.Client, params: dict[str, Any]) -> None:
    assert kling.get("/v1/videos/lip-sync", params=params).json()["code"] == 1201


# -- image2video, identify-face, advanced lip-sync ---------------------------------------------


def test_image2video_by_external_id(
    sb: Sandbox,
    kling: httpx.Client,
    media: Callable[[str], Path],
    ffprobe_bin: str,
    tmp_path: Path,
) -> None:
    body = {
        "image": sb.serve_file(media("jpg")),
        "prompt": "waves",
        "external_task_id": "mine-1",
        "model_name": "kling-v1-6",
    }
    created = kling.post("/v1/videos/image2video", json=body).json()
    assert created["code"] == 0, created
    assert created["data"]["task_info"]["external_task_id"] == "mine-1"
    again = kling.post("/v1/videos/image2video", json=body).json()
    assert again["code"] == 1201
    assert "external_task_id" in again["message"]
    sb.settle()
    by_external = kling.get("/v1/videos/image2video/mine-1").json()["data"]
    assert by_external["task_id"] == created["data"]["task_id"]
    assert by_external["task_status"] == "succeed"
    url = by_external["task_result"]["videos"][0]["url"]
    probed = ffprobe_json(ffprobe_bin, httpx.get(url).content, tmp_path)
    assert float(probed["format"]["duration"]) == pytest.approx(5.0, abs=0.2)
    listed = kling.get("/v1/videos/image2video").json()["data"]
    assert [t["task_id"] for t in listed] == [created["data"]["task_id"]]


def test_image2video_refuses_a_small_image(
    sb: Sandbox, kling: httpx.Client, media: Callable[[str], Path]
) -> None:
    image = base64.b64encode(media("png_small").read_bytes()).decode()
    response = kling.post("/v1/videos/image2video", json={"image": image}).json()
    assert response["code"] == 1201
    assert "each side must be at least 300 px" in response["message"]


def test_identify_face_then_advanced_lip_sync(
    sb: Sandbox, kling: httpx.Client, video_url: str, media: Callable[[str], Path]
) -> None:
    face = kling.post("/v1/videos/identify-face", json={"video_url": video_url}).json()
    assert face["code"] == 0, face
    session = face["data"]["session_id"]
    (found,) = face["data"]["face_data"]
    assert found["end_time"] == 4000
    assert httpx.get(found["face_image"]).content[:3] == b"\xff\xd8\xff"
    sound = base64.b64encode(media("mp3").read_bytes()).decode()
    choice = {
        "face_id": found["face_id"],
        "sound_file": sound,
        "sound_start_time": 0,
        "sound_end_time": 3000,
        "sound_insert_time": 500,
        "sound_volume": 1.5,
        "original_audio_volume": 0.5,
    }
    body = {"session_id": session, "face_choose": [choice], "external_task_id": "adv-1"}
    created = kling.post("/v1/videos/advanced-lip-sync", json=body).json()
    assert created["code"] == 0, created
    sb.settle()
    got = kling.get("/v1/videos/advanced-lip-sync/adv-1").json()["data"]
    assert got["task_status"] == "succeed"
    assert got["task_result"]["videos"][0]["url"].startswith(sb.url)
    outside = {**choice, "sound_insert_time": 3000}
    refused = kling.post(
        "/v1/videos/advanced-lip-sync", json={"session_id": session, "face_choose": [outside]}
    ).json()
    assert refused["code"] == 1201
    assert "inside the video" in refused["message"]
    unknown = kling.post(
        "/v1/videos/advanced-lip-sync", json={"session_id": "1", "face_choose": [choice]}
    ).json()
    assert unknown["code"] == 1201
    assert "session_id" in unknown["message"]


def test_identify_face_reports_each_face_with_its_span(
    sb: Sandbox, kling: httpx.Client, face_media: Callable[[str], Path], ffprobe_bin: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    url = sb.serve_file(face_media("two_late"))  # right face 0-6 s, left face from 3 s
    face = kling.post("/v1/videos/identify-face", json={"video_url": url}).json()
    assert face["code"] == 0, face
    left, right = face["data"]["face_data"]  # left to right
    assert (left["face_id"], right["face_id"]) == ("0", "1")
    assert 3000 <= left["start_time"] <= 3500  # within a sample (0.5 s) of its entrance
    assert left["end_time"] == right["end_time"] == 6000
    assert right["start_time"] == 0
    image = httpx.get(left["face_image"]).content
    assert image[:3] == b"\xff\xd8\xff"
    probed = ffprobe_json(ffprobe_bin, image, tmp_path)
    assert probed["streams"][0]["width"] == 128  # a crop of the face, not the whole frame


def test_without_the_vision_extra_identify_face_reports_one_face(
    face_media: Callable[[str], Path],
) -> None:
    script = f"""
import sys
sys.modules["cv2"] = None  # what an install without media-preflight[vision] looks like
from pathlib import Path
from preflight.sandbox._faces import find_faces
print(find_faces(Path({str(face_media("two"))!r}), 1280, 720, 4.0))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"  # the route then answers one face for the whole clip


# -- callbacks --------------------------------------------------------------------------------


def test_callbacks_follow_every_status_change(
    sb: Sandbox, kling: httpx.Client, video_url: str
) -> None:
    with Receiver() as receiver:
        body = text_body(video_url, callback_url=receiver.url)
        task_id = kling.post("/v1/videos/lip-sync", json=body).json()["data"]["task_id"]
        sb.settle()
        receiver.wait(3)
        bodies = receiver.bodies()
    assert [b["task_status"] for b in bodies] == ["submitted", "processing", "succeed"]
    assert all(b["task_id"] == task_id and "code" not in b for b in bodies)  # bare task objects
    assert bodies[-1]["task_result"]["videos"][0]["url"]
