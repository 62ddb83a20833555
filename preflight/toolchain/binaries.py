"""Where the external programs are: FFmpeg and ffprobe.

FFmpeg: ``$PREFLIGHT_FFMPEG``, then ``ffmpeg`` on PATH, then the binary inside the
``imageio-ffmpeg`` wheel (always installed), so a fresh machine needs no system packages.
ffprobe: ``$PREFLIGHT_FFPROBE``, then ``ffprobe`` on PATH; it is optional (MediaInfo is the default
probe backend).
"""

from __future__ import annotations

import functools
import os
import shutil

from preflight.model.errors import ToolNotFoundError

__all__ = ["ffmpeg_path", "ffprobe_path", "find_ffprobe"]


@functools.cache
def ffmpeg_path() -> str:
    """The FFmpeg binary to run. Raises ToolNotFoundError when there is none at all."""
    env = os.environ.get("PREFLIGHT_FFMPEG")
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise ToolNotFoundError(f"PREFLIGHT_FFMPEG={env!r} is not an executable file")
        return env
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ToolNotFoundError(
            "FFmpeg not found: install ffmpeg or `pip install imageio-ffmpeg`"
        ) from exc
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as exc:
        raise ToolNotFoundError(f"FFmpeg not found: {exc}") from exc


@functools.cache
def find_ffprobe() -> str | None:
    """The ffprobe binary, or None when there is none."""
    env = os.environ.get("PREFLIGHT_FFPROBE")
    if env:
        return env if os.path.isfile(env) and os.access(env, os.X_OK) else None
    return shutil.which("ffprobe")


def ffprobe_path() -> str:
    """The ffprobe binary. Raises ToolNotFoundError when there is none."""
    found = find_ffprobe()
    if found is None:
        raise ToolNotFoundError(
            "ffprobe not found on PATH (set PREFLIGHT_FFPROBE, or use the mediainfo backend)"
        )
    return found
