"""Injected faults, seen over real HTTP the way a client sees them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_support import kling_token

from preflight.sandbox import Faults, Sandbox, SandboxConfig

VOICE = {"voice_id": "genshin_klee2", "voice_language": "en"}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    config = SandboxConfig(clock_scale=0, submitted_seconds=1, processing_seconds=1)
    with Sandbox(config) as sandbox:
        yield sandbox


@pytest.fixture
def kling(sb: Sandbox) -> Iterator[httpx.Client]:
    token = kling_token(sb.kling_access_key, sb.kling_secret_key)
    with httpx.Client(base_url=sb.url, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def create(
    sb: Sandbox, kling: httpx.Client, media: Callable[[str], Path]
) -> Callable[[], httpx.Response]:
    url = sb.serve_file(media("ok"))
    body = {"input": {"video_url": url, "mode": "text2video", "text": "Hi", **VOICE}}
    return lambda: kling.post("/v1/videos/lip-sync", json=body)


def test_every_nth_create_answers_1303_and_starts_nothing(
    sb: Sandbox, create: Callable[[], httpx.Response]
) -> None:
    sb.set_faults(Faults(concurrency_every=2))
    answers = [create() for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 429, 200, 429]
    assert [r.json()["code"] for r in answers] == [0, 1303, 0, 1303]
    assert len(sb.tasks()) == 2


def test_max_open_tasks_is_a_resource_pack(
    sb: Sandbox, create: Callable[[], httpx.Response]
) -> None:
    sb.set_faults(Faults(max_open_tasks=2))
    assert [create().json()["code"] for _ in range(3)] == [0, 0, 1303]
    sb.settle()  # both tasks end: their slots free up
    assert create().json()["code"] == 0
    assert len(sb.tasks()) == 3


@pytest.mark.parametrize(("field", "code"), [("billing_every", 1102), ("rate_limit_every", 1302)])
def test_refusals_before_create(
    sb: Sandbox, create: Callable[[], httpx.Response], field: str, code: int
) -> None:
    sb.set_faults(**{field: 1})
    response = create()
    assert response.status_code == 429
    assert response.json()["code"] == code
    assert sb.tasks() == []


def test_server_error_after_create_is_ambiguous(
    sb: Sandbox, create: Callable[[], httpx.Response]
) -> None:
    sb.set_faults(server_error_after_create_every=1)
    response = create()
    assert response.status_code == 500
    assert response.json()["code"] == 5000
    assert len(sb.tasks()) == 1  # the task exists although the client was told it failed


def test_dropped_connection_after_create(
    sb: Sandbox, create: Callable[[], httpx.Response], kling: httpx.Client
) -> None:
    sb.set_faults(drop_after_create_every=1)
    with pytest.raises(httpx.RemoteProtocolError):
        create()
    (task,) = sb.tasks()
    listed = kling.get("/v1/videos/lip-sync").json()["data"]
    assert [t["task_id"] for t in listed] == [task.id]  # the client can find what it started
    sb.set_faults(Faults())
    assert create().json()["code"] == 0


def test_slow_responses(sb: Sandbox, kling: httpx.Client) -> None:
    sb.set_faults(delay_ms=2000)
    with pytest.raises(httpx.ReadTimeout):
        kling.get("/v1/videos/lip-sync", timeout=0.2)
    sb.set_faults(Faults())
    assert kling.get("/v1/videos/lip-sync").json()["code"] == 0


def test_faults_over_the_test_api(sb: Sandbox, create: Callable[[], httpx.Response]) -> None:
    response = httpx.put(f"{sb.url}/_sandbox/faults", json={"concurrency_every": 1})
    assert response.json()["concurrency_every"] == 1
    assert create().json()["code"] == 1303
    assert httpx.put(f"{sb.url}/_sandbox/faults", json={"nope": 1}).status_code == 400
    httpx.put(f"{sb.url}/_sandbox/faults", json={})
    assert create().json()["code"] == 0
    counted = httpx.get(f"{sb.url}/_sandbox/tasks").json()
    assert counted["count"] == 1
    assert counted["open"] == 1
    assert httpx.post(f"{sb.url}/_sandbox/advance", json={"seconds": 5}).status_code == 200


def test_concurrent_creates_never_exceed_the_pack(
    sb: Sandbox, create: Callable[[], httpx.Response]
) -> None:
    sb.set_faults(max_open_tasks=3)
    codes: list[Any] = []
    lock = threading.Lock()

    def one() -> None:
        code = create().json()["code"]
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [0, 0, 0] + [1303] * 5
    assert sb.open_tasks == 3


def test_wavespeed_creates_meet_the_same_faults(sb: Sandbox, media: Callable[[str], Path]) -> None:
    headers = {"Authorization": f"Bearer {sb.wavespeed_api_key}"}
    body = {"video": sb.serve_file(media("ok")), "text": "Hi"}
    path = f"{sb.url}/api/v3/kwaivgi/kling-lipsync/text-to-video"
    sb.set_faults(concurrency_every=1)
    assert httpx.post(path, json=body, headers=headers).status_code == 429
    assert sb.tasks() == []
    sb.set_faults(Faults(server_error_after_create_every=1))
    answer = httpx.post(path, json=body, headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (500, 5000)
    sb.set_faults(Faults(drop_after_create_every=1))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(path, json=body, headers=headers)
    assert len(sb.tasks(provider="wavespeed")) == 2


def test_scaled_clock_runs_tasks_without_advance(media: Callable[[str], Path]) -> None:
    config = SandboxConfig(clock_scale=50, submitted_seconds=1, processing_seconds=2)
    with Sandbox(config) as sb:
        token = kling_token(sb.kling_access_key, sb.kling_secret_key)
        body = {
            "input": {
                "video_url": sb.serve_file(media("ok")),
                "mode": "text2video",
                "text": "Hi",
                **VOICE,
            }
        }
        created = httpx.post(
            f"{sb.url}/v1/videos/lip-sync", json=body, headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert created["code"] == 0
        (task,) = sb.settle(timeout=30)
    assert task.status == "succeed"
    assert task.updated_at - task.created_at >= 3000  # three seconds of sandbox time passed


def test_a_result_that_cannot_be_made_fails_the_task(tmp_path: Path) -> None:
    config = SandboxConfig(clock_scale=0, validate_media=False)
    not_media = tmp_path / "clip.mp4"
    not_media.write_bytes(b"this is not a video at all" * 100)
    with Sandbox(config) as sb:
        token = kling_token(sb.kling_access_key, sb.kling_secret_key)
        body = {
            "input": {
                "video_url": sb.serve_file(not_media),
                "mode": "text2video",
                "text": "Hi",
                **VOICE,
            }
        }
        created = httpx.post(
            f"{sb.url}/v1/videos/lip-sync", json=body, headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert created["code"] == 0  # not checked, as configured
        (task,) = sb.settle()
    assert task.status == "failed"
    assert "result could not be made" in task.status_msg


def test_a_playlist_never_makes_ffmpeg_read_other_files(
    tmp_path: Path, media: Callable[[str], Path]
) -> None:
    """Even unchecked, FFmpeg opens inputs only as plain media files (no hls/concat)."""
    playlist = tmp_path / "clip.m3u8"  # FFmpeg would follow it by its name
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n{media('ok')}\n")
    with Sandbox(SandboxConfig(clock_scale=0, validate_media=False)) as sb:
        token = kling_token(sb.kling_access_key, sb.kling_secret_key)
        body = {
            "input": {
                "video_url": sb.serve_file(playlist),
                "mode": "text2video",
                "text": "Hi",
                **VOICE,
            }
        }
        httpx.post(
            f"{sb.url}/v1/videos/lip-sync", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        (task,) = sb.settle()
    assert task.status == "failed"
    assert task.result_url is None
