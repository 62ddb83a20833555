"""What a create does after an ambiguous failure, decision by decision (httpx.MockTransport).

The end-to-end cases (the sandbox creates the task, then drops the connection or answers 5000)
are in test_client_kling.py; these cover the branches a well-behaved sandbox never takes.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from preflight.client import KlingClient, RetryPolicy
from preflight.client._kling import SETTLE_DELAY
from preflight.model.errors import APIConnectionError, APIError, APITimeoutError, ServerError

NOW = 1_760_000_000.0
ACCESS = "ak-recovery-0123456789"
SECRET = "sk-recovery-0123456789abcdef0123456789ab"
VIDEO = "http://127.0.0.1/clip.mp4"
AUDIO = "http://127.0.0.1/voice.mp3"


def ok(data: object) -> httpx.Response:
    return httpx.Response(200, json={"code": 0, "message": "ok", "request_id": "r", "data": data})


def fail(code: int, status: int) -> httpx.Response:
    return httpx.Response(
        status, json={"code": code, "message": "no", "request_id": "r", "data": None}
    )


def task(
    task_id: str, *, external: str | None = None, video: str = VIDEO, age: float = 0
) -> dict[str, object]:
    info: dict[str, object] = {"parent_video": {"id": "", "url": video, "duration": "4.000"}}
    if external:
        info["external_task_id"] = external
    created = int((NOW - age) * 1000)
    return {
        "task_id": task_id,
        "task_status": "submitted",
        "task_info": info,
        "created_at": created,
        "updated_at": created,
    }


class Provider:
    """Answers by route with small functions; records every request and every pause."""

    def __init__(self, **routes: Callable[[httpx.Request], httpx.Response | Exception]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (
            f"{request.method} {request.url.path}".replace("/", "_")
            .replace(" ", "")
            .replace("-", "_")
        )
        answer = self.routes[key](request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def client(self) -> KlingClient:
        return KlingClient(
            ACCESS,
            SECRET,
            base_url="http://127.0.0.1:9",
            clock=lambda: NOW,
            http_client=httpx.Client(transport=httpx.MockTransport(self)),
            sleep=self.sleeps.append,
            retry=RetryPolicy(random=lambda: 0.0),
        )

    def bodies(self, method: str = "POST") -> list[dict[str, object]]:
        return [json.loads(r.content) for r in self.requests if r.method == method]


def sequence(
    *answers: httpx.Response | Exception,
) -> Callable[[httpx.Request], httpx.Response | Exception]:
    remaining = list(answers)
    return lambda request: remaining.pop(0)


def dropped(request: httpx.Request | None = None) -> Exception:
    return httpx.RemoteProtocolError("Server disconnected without sending a response.")


def test_dropped_lip_sync_with_nothing_to_find_is_not_sent_again() -> None:
    provider = Provider(
        POST_v1_videos_lip_sync=lambda r: dropped(),
        GET_v1_videos_lip_sync=lambda r: ok([task("1", external="someone-else")]),
    )
    with pytest.raises(APIConnectionError, match="may have started a task") as info:
        provider.client().create_lip_sync(video_url=VIDEO, audio_url=AUDIO)
    assert [r.method for r in provider.requests] == ["POST", "GET", "GET"]
    assert provider.sleeps == [SETTLE_DELAY]
    assert provider.bodies()[0]["external_task_id"] in str(info.value)


def test_timed_out_lip_sync_with_nothing_to_find_is_not_sent_again() -> None:
    provider = Provider(
        POST_v1_videos_lip_sync=lambda r: httpx.ReadTimeout("slow"),
        GET_v1_videos_lip_sync=lambda r: ok([]),
    )
    with pytest.raises(APITimeoutError, match="not sent again"):
        provider.client().create_lip_sync(video_url=VIDEO, audio_url=AUDIO)
    assert sum(r.method == "POST" for r in provider.requests) == 1


def test_answered_5000_with_nothing_listed_is_sent_once_more_with_the_same_external_id() -> None:
    provider = Provider(
        POST_v1_videos_lip_sync=sequence(fail(5000, 500), ok(task("77"))),
        GET_v1_videos_lip_sync=lambda r: ok([]),
    )
    created = provider.client().create_lip_sync(video_url=VIDEO, text="Hi", voice_id="AOT")
    assert created.id == "77"
    first, second = provider.bodies()
    assert first == second  # same external_task_id: a provider that keeps it refuses a twin


def test_a_second_5000_gives_up_with_a_server_error() -> None:
    provider = Provider(
        POST_v1_videos_lip_sync=lambda r: fail(5000, 500),
        GET_v1_videos_lip_sync=lambda r: ok([]),
    )
    with pytest.raises(APIError, match="could not be confirmed"):
        provider.client().create_lip_sync(video_url=VIDEO, audio_url=AUDIO)
    assert sum(r.method == "POST" for r in provider.requests) == 2


def test_the_listing_finds_the_task_by_external_id_among_others() -> None:
    def listing(request: httpx.Request) -> httpx.Response:
        mine = provider.bodies()[0]["external_task_id"]
        return ok([task("3", external="x"), task("2", external=str(mine)), task("1")])

    provider = Provider(POST_v1_videos_lip_sync=lambda r: dropped(), GET_v1_videos_lip_sync=listing)
    assert provider.client().create_lip_sync(video_url=VIDEO, audio_url=AUDIO).id == "2"


def test_without_external_ids_one_matching_recent_task_is_taken() -> None:
    provider = Provider(
        POST_v1_videos_lip_sync=lambda r: dropped(),
        GET_v1_videos_lip_sync=lambda r: ok(
            [
                task("5", video="http://127.0.0.1/other.mp4"),
                task("4"),
                task("3", age=3600),  # created long before the call: not ours
            ]
        ),
    )
    assert provider.client().create_lip_sync(video_url=VIDEO, audio_url=AUDIO).id == "4"


def test_several_look_alikes_are_reported_not_guessed() -> None:
    provider = Provider(
        POST_v1_videos_lip_sync=lambda r: dropped(),
        GET_v1_videos_lip_sync=lambda r: ok([task("9"), task("8")]),
    )
    with pytest.raises(APIError, match="2 recent tasks match it") as info:
        provider.client().create_lip_sync(video_url=VIDEO, audio_url=AUDIO)
    assert "9" in str(info.value)
    assert sum(r.method == "POST" for r in provider.requests) == 1


def test_a_task_this_client_already_returned_is_never_claimed_twice() -> None:
    provider = Provider(
        POST_v1_videos_lip_sync=sequence(ok(task("4")), dropped()),
        GET_v1_videos_lip_sync=lambda r: ok([task("4")]),
    )
    client = provider.client()
    assert client.create_lip_sync(video_url=VIDEO, audio_url=AUDIO).id == "4"
    with pytest.raises(APIConnectionError, match="may have started"):
        client.create_lip_sync(video_url=VIDEO, audio_url=AUDIO)


def test_image2video_not_found_is_resent_and_a_duplicate_refusal_means_it_landed() -> None:
    lookups = sequence(fail(1203, 404), fail(1203, 404), ok(task("i2v-1", external="E")))
    provider = Provider(
        POST_v1_videos_image2video=sequence(httpx.ReadTimeout("slow"), fail(1201, 400)),
        GET_v1_videos_image2video_E=lookups,
    )
    created = provider.client().create_image2video(
        image_url="http://127.0.0.1/a.jpg", external_task_id="E"
    )
    assert created.id == "i2v-1"
    assert [f"{r.method} {r.url.path}" for r in provider.requests] == [
        "POST /v1/videos/image2video",
        "GET /v1/videos/image2video/E",
        "GET /v1/videos/image2video/E",
        "POST /v1/videos/image2video",
        "GET /v1/videos/image2video/E",
    ]


def test_image2video_lookup_finds_it_straight_away() -> None:
    provider = Provider(
        POST_v1_videos_image2video=lambda r: fail(5002, 504),
        GET_v1_videos_image2video_E=lambda r: ok(task("i2v-2", external="E")),
    )
    assert (
        provider.client().create_image2video(image_url="http://x/a.jpg", external_task_id="E").id
        == "i2v-2"
    )
    assert sum(r.method == "POST" for r in provider.requests) == 1


def test_a_failing_lookup_surfaces_its_own_error() -> None:
    provider = Provider(
        POST_v1_videos_image2video=lambda r: dropped(),
        GET_v1_videos_image2video_E=lambda r: fail(5000, 500),
    )
    client = provider.client()
    with pytest.raises(ServerError):
        client.create_image2video(image_url="http://x/a.jpg", external_task_id="E")
    assert sum(r.method == "POST" for r in provider.requests) == 1
