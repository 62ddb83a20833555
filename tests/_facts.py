"""Build MediaFacts and Jobs for table-driven rule tests (no FFmpeg, no probe)."""

from __future__ import annotations

from typing import Any

from preflight.checking.evaluate import evaluate
from preflight.model.facts import AudioStream, ImageInfo, MediaFacts, VideoStream
from preflight.model.findings import Finding
from preflight.model.job import Job
from preflight.model.profile import Profile
from preflight.rules.profiles import load_profile


def video(
    *,
    name: str = "clip.mp4",
    container: str | None = "mp4",
    size: int = 1_000_000,
    duration: float | None = 4.0,
    width: int = 1280,
    height: int = 720,
    codec: str = "h264",
    rotation: int = 0,
    sar: str = "1:1",
    coded: tuple[int, int] | None = None,
    has_video: bool = True,
    audio_duration: float | None = None,
) -> MediaFacts:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    stream = None
    if has_video:
        cw, ch = coded if coded is not None else (width, height)
        stream = VideoStream(
            codec=codec,
            width=width,
            height=height,
            coded_width=cw,
            coded_height=ch,
            rotation=rotation,
            sample_aspect_ratio=sar,
            duration=duration,
            frame_rate=25.0,
        )
    track = (
        AudioStream(codec="aac", duration=audio_duration) if audio_duration is not None else None
    )
    return MediaFacts(
        source=f"/media/{name}",
        backend="test",
        container=container,
        extension=ext,
        size_bytes=size,
        duration=duration,
        video=stream,
        audio=track,
        video_streams=1 if has_video else 0,
        audio_streams=1 if track else 0,
    )


def audio(
    *,
    name: str = "voice.mp3",
    container: str | None = "mp3",
    size: int = 100_000,
    duration: float | None = 4.0,
    codec: str = "mp3",
    has_audio: bool = True,
) -> MediaFacts:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    track = AudioStream(codec=codec, sample_rate=44100, channels=1, duration=duration)
    return MediaFacts(
        source=f"/media/{name}",
        backend="test",
        container=container,
        extension=ext,
        size_bytes=size,
        duration=duration,
        audio=track if has_audio else None,
        audio_streams=1 if has_audio else 0,
    )


def image(
    *,
    name: str = "face.jpg",
    container: str | None = "jpeg",
    size: int = 200_000,
    width: int = 720,
    height: int = 1280,
) -> MediaFacts:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return MediaFacts(
        source=f"/media/{name}",
        backend="test",
        container=container,
        extension=ext,
        size_bytes=size,
        image=ImageInfo(codec=container, width=width, height=height),
    )


def text_job(**kw: Any) -> Job:
    """A valid text2video job for kling-lipsync, with fields overridden by ``kw``."""
    fields: dict[str, Any] = {
        "name": "job",
        "video": video(),
        "text": "Hello there",
        "voice_id": "genshin_klee2",
        "voice_language": "en",
        "voice_speed": 1.0,
    }
    fields.update(kw)
    return Job(**fields)


def audio_job(**kw: Any) -> Job:
    fields: dict[str, Any] = {"name": "job", "video": video(), "audio": audio()}
    fields.update(kw)
    return Job(**fields)


def run(job: Job, profile: str | Profile = "kling-lipsync") -> list[Finding]:
    prof = load_profile(profile) if isinstance(profile, str) else profile
    return evaluate(job, prof)


def rules_of(job: Job, profile: str | Profile = "kling-lipsync") -> list[str]:
    return [f.rule for f in run(job, profile)]


def only(job: Job, rule: str, profile: str | Profile = "kling-lipsync") -> list[Finding]:
    return [f for f in run(job, profile) if f.rule == rule]
