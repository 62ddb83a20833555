"""Clients for Kling's API, WaveSpeedAI and fal: auth, retries, errors and money handled.

::

    from preflight.client import KlingClient

    with KlingClient() as kling:                       # KLING_ACCESS_KEY / KLING_SECRET_KEY
        task = kling.create_lip_sync(video_url=url, text="Hello", voice_id="genshin_klee2")
        done = kling.wait(task)                        # TaskFailedError if it failed
        kling.download(done, "out.mp4")

See ``docs/client.md``.
"""

from __future__ import annotations

from preflight.client._policy import RetryPolicy, parse_retry_after
from preflight.client.callbacks import parse_callback, verify_webhook
from preflight.client.fal import (
    FAL_AUDIO_TO_VIDEO_MODEL,
    FAL_TEXT_TO_VIDEO_MODEL,
    AsyncFalClient,
    FalClient,
)
from preflight.client.kling import AsyncKlingClient, KlingClient
from preflight.client.models import Face, FaceSession, Task, TaskKind, TaskStatus, Video
from preflight.client.wavespeed import (
    AUDIO_TO_VIDEO_MODEL,
    TEXT_TO_VIDEO_MODEL,
    AsyncWaveSpeedClient,
    WaveSpeedClient,
)

__all__ = [
    "AUDIO_TO_VIDEO_MODEL",
    "FAL_AUDIO_TO_VIDEO_MODEL",
    "FAL_TEXT_TO_VIDEO_MODEL",
    "TEXT_TO_VIDEO_MODEL",
    "AsyncFalClient",
    "AsyncKlingClient",
    "AsyncWaveSpeedClient",
    "Face",
    "FaceSession",
    "FalClient",
    "KlingClient",
    "RetryPolicy",
    "Task",
    "TaskKind",
    "TaskStatus",
    "Video",
    "WaveSpeedClient",
    "parse_callback",
    "parse_retry_after",
    "verify_webhook",
]
