"""Where the external programs are: FFmpeg and ffprobe, and whether the FFmpeg found can do the job.

FFmpeg: ``$PREFLIGHT_FFMPEG``, then ``ffmpeg`` on PATH, then the binary inside the
``imageio-ffmpeg`` wheel (always installed), so a fresh machine needs no system packages.

Whatever is on PATH is not trusted blindly: a distribution's FFmpeg may be old (Debian 12 ships
5.1, which lacks ``-display_rotation``), built without libx264, or a broken wrapper script. The
first call checks the candidate once (it runs; its version; the encoders, filters and options
preflight uses, :data:`REQUIRED_ENCODERS` ...) and, when it lacks something, falls back to the
bundled binary, saying so once on the ``preflight.ffmpeg`` logger (stderr when nothing else is
configured). ``$PREFLIGHT_FFMPEG`` is the user's explicit choice: it is checked too, but a
shortcoming is an error that says what is missing rather than a silent switch.

:func:`ffmpeg` returns the chosen :class:`FFmpegBinary`, whose ``label`` (path and version) every
FFmpeg error carries, so a report always says *which* FFmpeg failed.

ffprobe: ``$PREFLIGHT_FFPROBE``, then ``ffprobe`` on PATH; it is optional (MediaInfo is the default
probe backend).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from preflight.model.errors import ToolNotFoundError

__all__ = [
    "REQUIRED_ENCODERS",
    "REQUIRED_FILTERS",
    "REQUIRED_OPTIONS",
    "FFmpegBinary",
    "bundled_ffmpeg",
    "examine",
    "ffmpeg",
    "ffmpeg_path",
    "ffprobe_path",
    "find_ffprobe",
    "forget",
]

log = logging.getLogger("preflight.ffmpeg")

# What the fixer, the verifier, the face sampler and the test fixtures ask of FFmpeg.
REQUIRED_ENCODERS = ("libx264", "aac")
REQUIRED_FILTERS = ("scale", "pad", "crop", "fps", "setsar", "setpts", "format", "atrim")
# -display_rotation (FFmpeg 6.0+) writes a rotation matrix without re-encoding
REQUIRED_OPTIONS = ("-display_rotation",)
CHECK_TIMEOUT = 60.0  # each listing takes ~20 ms; only a machine loaded many times over is slower

_VERSION = re.compile(r"ffmpeg version n?(\S+)")


@dataclass(frozen=True, slots=True)
class FFmpegBinary:
    """One FFmpeg executable and what it can do. ``missing`` is empty for a usable one."""

    path: str
    version: str  # as FFmpeg prints it ("7.0.2-static", "5.1.9-0+deb12u1"), or "unknown"
    missing: tuple[str, ...] = ()
    verified: bool = True  # False: a listing timed out, so what it lacks is not known

    @property
    def usable(self) -> bool:
        return self.verified and not self.missing

    @property
    def label(self) -> str:
        """``/usr/bin/ffmpeg (FFmpeg 5.1.9-0+deb12u1)``: what errors and warnings name."""
        return f"{self.path} (FFmpeg {self.version})"


class _Inconclusive(Exception):
    """A listing did not finish in time: the binary may be fine on a less loaded machine."""


def _output(path: str, *args: str) -> str | None:
    """What ``path -hide_banner -nostdin ARGS`` prints, or None when it fails to run or exits
    non-zero. Raises `_Inconclusive` when it does not finish within `CHECK_TIMEOUT`."""
    try:
        done = subprocess.run(
            [path, "-hide_banner", "-nostdin", *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=CHECK_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise _Inconclusive from exc
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace")


def _names(listing: str) -> set[str]:
    """The second column of ``-encoders`` / ``-filters`` (the flags come first)."""
    return {parts[1] for parts in map(str.split, listing.splitlines()) if len(parts) > 2}


_EXAMINED: dict[str, FFmpegBinary] = {}


def examine(path: str) -> FFmpegBinary:
    """Run ``path`` a few times to learn its version and what it lacks.

    Cached per path, except a result that timed out (``verified`` False): that is asked again.
    """
    known = _EXAMINED.get(path)
    if known is not None:
        return known
    try:
        found = _examine(path)
    except _Inconclusive:
        return FFmpegBinary(path, "unknown", verified=False)
    _EXAMINED[path] = found
    return found


def _examine(path: str) -> FFmpegBinary:
    banner = _output(path, "-version")
    if banner is None:
        return FFmpegBinary(path, "unknown", ("a working `-version` (it did not run)",))
    found = _VERSION.search(banner)
    version = found.group(1) if found else "unknown"
    missing: list[str] = []
    encoders = _names(_output(path, "-encoders") or "")
    missing += [f"the {name} encoder" for name in REQUIRED_ENCODERS if name not in encoders]
    filters = _names(_output(path, "-filters") or "")
    missing += [f"the {name} filter" for name in REQUIRED_FILTERS if name not in filters]
    options = _output(path, "-h", "long") or ""
    missing += [
        f"the {option} option (FFmpeg 6 or newer)"
        for option in REQUIRED_OPTIONS
        if option not in options
    ]
    return FFmpegBinary(path, version, tuple(missing))


def bundled_ffmpeg() -> str | None:
    """The FFmpeg inside the imageio-ffmpeg wheel, or None when it is not installed."""
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError:
        return None


def _why(binary: FFmpegBinary) -> str:
    if not binary.verified:
        return f"{binary.path} did not answer within {CHECK_TIMEOUT:g} s"
    return f"{binary.label} lacks {', '.join(binary.missing)}"


@functools.cache
def ffmpeg() -> FFmpegBinary:
    """The FFmpeg to run, checked once. Raises ToolNotFoundError when none is usable."""
    env = os.environ.get("PREFLIGHT_FFMPEG")
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise ToolNotFoundError(f"PREFLIGHT_FFMPEG={env!r} is not an executable file")
        chosen = examine(env)
        if not chosen.usable:
            raise ToolNotFoundError(
                f"PREFLIGHT_FFMPEG: {_why(chosen)}; unset it to use the bundled FFmpeg"
            )
        return chosen
    rejected: list[FFmpegBinary] = []
    on_path = shutil.which("ffmpeg")
    if on_path:
        candidate = examine(on_path)
        if candidate.usable:
            return candidate
        rejected.append(candidate)
    bundled = bundled_ffmpeg()
    if bundled:
        candidate = examine(bundled)
        if candidate.usable or not candidate.verified:  # the one we ship: used unless it lacks
            for other in rejected:
                log.warning(
                    "preflight: the ffmpeg on PATH is not used: %s; using the bundled %s",
                    _why(other),
                    candidate.label,
                )
            return candidate
        rejected.append(candidate)
    if not rejected:
        raise ToolNotFoundError("FFmpeg not found: install ffmpeg or `pip install imageio-ffmpeg`")
    raise ToolNotFoundError("no usable FFmpeg: " + "; ".join(_why(binary) for binary in rejected))


def forget() -> None:
    """Forget every binary examined and the one chosen (tests; a long-lived process after the
    FFmpeg on PATH changed)."""
    _EXAMINED.clear()
    ffmpeg.cache_clear()


def ffmpeg_path() -> str:
    """The FFmpeg binary to run. Raises ToolNotFoundError when there is none at all."""
    return ffmpeg().path


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
