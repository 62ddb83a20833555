"""The lip-sync wire body, built without any I/O."""

from __future__ import annotations

import pytest

from preflight.client._kling import lip_sync_body, round_speed
from preflight.model.errors import InvalidRequestError

VIDEO = "http://127.0.0.1/clip.mp4"


def test_text_body_has_everything_inside_input() -> None:
    body = lip_sync_body(
        video_url=VIDEO,
        text="Hi",
        voice_id="AOT",
        callback_url="http://127.0.0.1/cb",
        external_task_id="mine",
    )
    assert body == {
        "input": {
            "video_url": VIDEO,
            "mode": "text2video",
            "text": "Hi",
            "voice_id": "AOT",
            "voice_language": "en",
            "voice_speed": 1.0,
        },
        "callback_url": "http://127.0.0.1/cb",
        "external_task_id": "mine",
    }


def test_audio_body_by_url_and_by_id() -> None:
    body = lip_sync_body(video_id="860", audio_url="http://127.0.0.1/a.mp3", voice_language=None)
    assert body["input"] == {
        "video_id": "860",
        "mode": "audio2video",
        "audio_type": "url",
        "audio_url": "http://127.0.0.1/a.mp3",
    }
    assert body["external_task_id"].startswith("pf-")


def test_each_call_gets_its_own_external_id() -> None:
    ids = {lip_sync_body(video_url=VIDEO, audio_url=VIDEO)["external_task_id"] for _ in range(50)}
    assert len(ids) == 50


def test_language_is_sent_as_given() -> None:
    body = lip_sync_body(video_url=VIDEO, text="你好", voice_id="AOT", voice_language="zh")
    assert body["input"]["voice_language"] == "zh"


@pytest.mark.parametrize(
    ("given", "sent"), [(1.25, 1.3), (0.85, 0.9), (1.04, 1.0), (2, 2.0), (0.8, 0.8), (1.15, 1.2)]
)
def test_speed_is_rounded_half_up_to_one_decimal(given: float, sent: float) -> None:
    assert round_speed(given) == sent
    body = lip_sync_body(video_url=VIDEO, text="Hi", voice_id="AOT", voice_speed=given)
    assert body["input"]["voice_speed"] == sent


@pytest.mark.parametrize(
    "fields",
    [
        {"video_url": "", "audio_url": VIDEO},
        {"video_url": VIDEO, "video_id": "1", "audio_url": VIDEO},
        {"audio_url": VIDEO},
        {"video_url": VIDEO, "text": "", "voice_id": "AOT"},
        {"video_url": VIDEO, "audio_url": VIDEO, "voice_speed": 1.0},
        {"video_url": VIDEO, "audio_url": VIDEO, "voice_language": "en"},
    ],
)
def test_wrong_combinations(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidRequestError, match="rejected before sending"):
        lip_sync_body(**fields)  # type: ignore[arg-type]
