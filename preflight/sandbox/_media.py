"""Media the sandbox takes in and gives out: fetch, decode, probe, and make result videos.

Inputs are stored content-addressed (``<sha256><ext>``) so the same clip fetched 500 times is
probed and muxed once. Every FFmpeg command writes to a temp name beside its target and is moved
into place with `preflight.model.atomic`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import os
import tempfile
import threading
import zlib
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import httpx

from preflight.model.atomic import move_into_place, write_atomic
from preflight.model.errors import FFmpegError
from preflight.toolchain import runner

__all__ = [
    "MediaRejected",
    "decode_base64",
    "extract_frame",
    "fetch",
    "image_to_video",
    "mix_advanced",
    "mux_audio",
    "tone_for",
]

CHUNK = 1 << 16
MAX_REDIRECTS = 5  # hops followed for an input URL, each over http(s) only
FFMPEG_TIMEOUT = 300.0  # seconds for one result


class MediaRejected(Exception):
    """An input the provider would refuse; the message says why (it becomes the 1201 message)."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unreachable = unreachable


def _store(data_dir: Path, digest: str, ext: str) -> Path:
    return data_dir / f"{digest}{('.' + ext) if ext else ''}"


def _extension(name: str) -> str:
    return PurePosixPath(name).suffix.lower().lstrip(".")


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    data_dir: Path,
    *,
    max_bytes: int,
    what: str,
    deadline: float = 60.0,
) -> Path:
    """Download ``url`` into ``data_dir`` (at most ``max_bytes``); the stored path is returned.

    The whole fetch ends after ``deadline`` seconds however the server paces its bytes or
    headers (the client's timeout is per read), as an unreachable input.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MediaRejected(f"{what} must be an http(s) URL", unreachable=True)
    try:
        async with asyncio.timeout(deadline):
            return await _fetch(client, url, data_dir, max_bytes=max_bytes, what=what)
    except TimeoutError as exc:
        raise MediaRejected(
            f"{what} could not be fetched within {deadline:g} s", unreachable=True
        ) from exc


async def _fetch(
    client: httpx.AsyncClient, url: str, data_dir: Path, *, max_bytes: int, what: str
) -> Path:
    parts = urlsplit(url)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=data_dir, prefix=".fetch-")
    tmp = Path(tmp_name)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async with client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise MediaRejected(
                        f"{what} could not be fetched: HTTP {response.status_code}",
                        unreachable=True,
                    )
                async for chunk in response.aiter_bytes(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise MediaRejected(f"{what} is larger than {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
        if size == 0:
            raise MediaRejected(f"{what} is empty")
        target = _store(data_dir, digest.hexdigest(), _extension(parts.path))
        return move_into_place(tmp, target)
    except httpx.TooManyRedirects as exc:
        raise MediaRejected(
            f"{what} could not be fetched: more than {MAX_REDIRECTS} redirects", unreachable=True
        ) from exc
    except httpx.UnsupportedProtocol as exc:
        raise MediaRejected(
            f"{what} could not be fetched: it redirects to an address that is not http(s)",
            unreachable=True,
        ) from exc
    except httpx.HTTPError as exc:
        raise MediaRejected(
            f"{what} could not be fetched: {type(exc).__name__}", unreachable=True
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


def decode_base64(text: str, data_dir: Path, *, max_bytes: int, what: str, role: str) -> Path:
    """Decode raw base64 (no ``data:`` prefix) into ``data_dir``; the stored path is returned."""
    if text.startswith("data:"):
        raise MediaRejected(f"{what} must be raw base64 without a 'data:' prefix")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaRejected(f"{what} is not valid base64") from exc
    if not data:
        raise MediaRejected(f"{what} is empty")
    if len(data) > max_bytes:
        raise MediaRejected(f"{what} is larger than {max_bytes} bytes")
    ext = _sniff_extension(data)
    if role == "audio" and ext == "mp4":
        ext = "m4a"  # MP4 audio sent as base64 has no name: call it what an audio file is called
    target = _store(data_dir, hashlib.sha256(data).hexdigest(), ext)
    if not target.exists():
        write_atomic(target, data)
    return target


def _sniff_extension(data: bytes) -> str:
    """The extension a decoded upload would have had (the rules compare it with the content)."""
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        if len(data) > 1 and data[1] & 0x06 == 0:  # MPEG-2/4 AAC in ADTS
            return "aac"
        return "mp3"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[4:8] == b"ftyp":
        return "m4a" if data[8:11] in (b"M4A", b"M4B") else "mp4"
    if data[:3] == b"\xff\xd8\xff":
        return "jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    return ""


# -- making results -------------------------------------------------------------------------


_TARGET_LOCKS: dict[Path, threading.Lock] = {}
_TARGET_LOCKS_GUARD = threading.Lock()


def _run(args: list[str], target: Path, fmt: str) -> Path:
    """Make ``target`` once with FFmpeg (through preflight's runner), temp file then rename."""
    with _TARGET_LOCKS_GUARD:
        lock = _TARGET_LOCKS.setdefault(target, threading.Lock())
    with lock:
        if target.exists():
            return target
        with runner.TempOutput(target) as out:
            try:
                runner.run(
                    ["-y", "-loglevel", "error", *args, "-f", fmt, str(out.path)],
                    timeout=FFMPEG_TIMEOUT,
                    label="sandbox",
                )
            except FFmpegError as exc:
                lines = exc.stderr_tail.strip().splitlines()
                reason = lines[-1] if lines else str(exc).splitlines()[0]
                raise MediaRejected(f"the result could not be made: {reason}") from exc
            return out.commit()


ENCODE_AUDIO = ["-c:a", "aac", "-b:a", "96k"]
FOR_WEB = ["-movflags", "+faststart"]


def _input(path: Path, fmt: str | None = None) -> list[str]:
    """One local input, opened as a plain file by real media demuxers only (the runner's
    whitelist): a fetched "clip.m3u8" must not make FFmpeg read other files into a result."""
    options = [item for key, value in runner.INPUT_OPTIONS.items() for item in (f"-{key}", value)]
    forced = ["-f", fmt] if fmt else []
    return [*options, *forced, "-i", runner.input_url(path)]


def mux_audio(
    video: Path, target: Path, *, audio: Path | None = None, tone: tuple[float, float] | None = None
) -> Path:
    """The video with its audio replaced by ``audio`` or a sine ``tone=(hz, seconds)``.

    The output keeps the video's length: shorter audio is padded with silence, longer is cut.
    """
    if audio is not None:
        source = _input(audio)
    elif tone is not None:
        hz, seconds = tone
        sine = f"sine=frequency={hz:.0f}:sample_rate=44100:duration={seconds:.2f}"
        source = ["-f", "lavfi", "-i", sine]
    else:
        raise ValueError("audio or tone is required")
    maps = ["-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-af", "apad", "-shortest"]
    return _run([*_input(video), *source, *maps, *ENCODE_AUDIO, *FOR_WEB], target, "mp4")


def mix_advanced(
    video: Path,
    audio: Path,
    target: Path,
    *,
    start_ms: int,
    end_ms: int,
    insert_ms: int,
    volume: float,
    original_volume: float,
    video_has_audio: bool,
) -> Path:
    """Advanced lip-sync: a cut of ``audio`` put in at ``insert_ms`` over the video's audio."""
    cut = (
        f"[1:a]atrim=start={start_ms / 1000:.3f}:end={end_ms / 1000:.3f},asetpts=PTS-STARTPTS,"
        f"volume={volume:.2f},adelay={insert_ms}:all=1,apad[new]"
    )
    if video_has_audio:
        graph = (
            f"{cut};[0:a]volume={original_volume:.2f}[old];"
            "[old][new]amix=inputs=2:duration=first:normalize=0[out]"
        )
    else:
        graph = f"{cut};[new]anull[out]"
    maps = [
        "-filter_complex",
        graph,
        *["-map", "0:v:0", "-map", "[out]", "-c:v", "copy", "-shortest"],
    ]
    return _run([*_input(video), *_input(audio), *maps, *ENCODE_AUDIO, *FOR_WEB], target, "mp4")


def image_to_video(image: Path, target: Path, *, seconds: float) -> Path:
    """A still image shown for ``seconds`` (what image2video returns, minus the motion)."""
    hold = (
        f"tpad=stop_mode=clone:stop_duration={seconds:.2f},fps=24,"
        "scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p"
    )
    encode = ["-c:v", "libx264", "-preset", "ultrafast"]
    return _run(
        [*_input(image, "image2pipe"), "-vf", hold, "-t", f"{seconds:.2f}", *encode, *FOR_WEB],
        target,
        "mp4",
    )


def extract_frame(
    video: Path,
    target: Path,
    *,
    at_seconds: float,
    crop: tuple[float, float, float, float] | None = None,
) -> Path:
    """One frame as a JPEG (the face image identify-face returns); ``crop`` (x, y, w, h in
    display pixels) cuts one face out of it."""
    vf = "scale=256:-2"
    if crop is not None:  # display pixels: square the pixels first; keep the box in the frame
        x, y, w, h = (max(0, round(v)) for v in crop)
        vf = (
            f"scale=trunc(iw*sar/2)*2:ih,setsar=1,crop=min({max(2, w)}\\,iw-{x}):"
            f"min({max(2, h)}\\,ih-{y}):min({x}\\,iw-2):min({y}\\,ih-2),scale=128:-2"
        )
    return _run(
        ["-ss", f"{at_seconds:.3f}", *_input(video), "-frames:v", "1", "-vf", vf],
        target,
        "mjpeg",
    )


def tone_for(text: str, voice_id: str, speed: float, video_seconds: float) -> tuple[float, float]:
    """A stand-in voice: a sine whose pitch names the voice and whose length follows the text."""
    hz = 200 + zlib.crc32(voice_id.encode()) % 400
    seconds = min(max(1.0, len(text) * 0.12 / speed), max(video_seconds, 1.0))
    return float(hz), round(seconds, 2)
