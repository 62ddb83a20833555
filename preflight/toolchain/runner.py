"""The one place preflight executes FFmpeg.

Every call goes through :func:`run` (encode to a file, with progress) or :func:`stream`
(read raw output, e.g. decoded frames for the face checks). Both:

- take the arguments after the binary as a list and add the fixed safety prefix
  (``-nostdin -hide_banner``), so the full argv is known before it runs and is logged with
  ``shlex.join`` on the ``preflight.ffmpeg`` logger;
- expect inputs named with :func:`input_url` (``file:/abs/path``) and opened with
  :data:`INPUT_OPTIONS` (a demuxer whitelist and ``-protocol_whitelist file,pipe``), so a file name
  can never become an option or a protocol, and a playlist disguised as ``.mp4`` cannot make FFmpeg
  open other files;
- start the child in its own session (a terminal's Ctrl-C reaches preflight, which then kills it)
  and kill it in ``finally`` whatever happens;
- raise :class:`~preflight.model.errors.FFmpegError` carrying the argv and the tail of stderr, and
  :class:`~preflight.model.errors.FFmpegTimeoutError` past the time limit.

Output files are written through :class:`TempOutput`: a temp file beside the target that is moved
into place with ``os.replace`` only when the caller commits, and removed otherwise.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from preflight.model.errors import FFmpegError, FFmpegTimeoutError, FixError
from preflight.toolchain.binaries import ffmpeg_path

__all__ = [
    "INPUT_OPTIONS",
    "SAFE_PREFIX",
    "Progress",
    "RunResult",
    "TempOutput",
    "cancel_all",
    "full_argv",
    "has_filters",
    "input_args",
    "input_url",
    "read_frames",
    "reset_cancel",
    "run",
    "run_argv",
    "stream",
    "temp_path_for",
]

log = logging.getLogger("preflight.ffmpeg")

SAFE_PREFIX: tuple[str, ...] = ("-nostdin", "-hide_banner")
PROGRESS_ARGS: tuple[str, ...] = ("-nostats", "-progress", "pipe:1", "-stats_period", "0.25")

# Demuxers FFmpeg may use to open an input: real media formats only. No playlists (hls, dash,
# concat), no image sequences by pattern, no scripts (avisynth): those can name other files.
DEMUXERS = (
    "mov", "matroska", "avi", "mpegts", "mpeg", "flv", "asf", "ogg", "mp3", "wav", "w64", "aac",
    "flac", "aiff", "caf", "ac3", "eac3", "amr", "h264", "hevc", "m4v", "mjpeg", "image2pipe",
    "jpeg_pipe", "png_pipe", "webp_pipe",
)  # fmt: skip
INPUT_OPTIONS: dict[str, str] = {
    "format_whitelist": ",".join(DEMUXERS),
    "protocol_whitelist": "file,pipe",
}

STDERR_TAIL_LINES = 25
TEMP_MARK = ".preflight-tmp"


def input_url(path: str | os.PathLike[str]) -> str:
    """``file:/absolute/path``: a name starting with ``-`` or ``http:`` stays a local file name."""
    return "file:" + os.path.abspath(os.fspath(path))


def input_args(path: str | os.PathLike[str]) -> list[str]:
    """``-format_whitelist ... -protocol_whitelist file,pipe -i file:/abs/path``."""
    args: list[str] = []
    for key, value in INPUT_OPTIONS.items():
        args += [f"-{key}", value]
    return [*args, "-i", input_url(path)]


def temp_path_for(target: str | os.PathLike[str]) -> Path:
    """Where the output for ``target`` is written before it is verified (deterministic)."""
    target = Path(target)
    return target.with_name(f".{target.stem}{TEMP_MARK}{target.suffix}")


def full_argv(args: Sequence[str]) -> list[str]:
    """The argv that :func:`stream` executes for ``args`` (the arguments after the binary)."""
    return [ffmpeg_path(), *SAFE_PREFIX, *args]


def run_argv(args: Sequence[str]) -> list[str]:
    """The exact argv that :func:`run` executes for ``args`` (what ``--dry-run`` prints)."""
    return full_argv([*PROGRESS_ARGS, *args])


@functools.cache
def has_filters(*names: str) -> bool:
    """True when this FFmpeg build has every named filter (e.g. ``zscale``, ``tonemap``)."""
    try:
        out = subprocess.run(
            [ffmpeg_path(), *SAFE_PREFIX, "-filters"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    available = {line.split()[1] for line in out.splitlines() if len(line.split()) > 2}
    return all(name in available for name in names)


@dataclass(frozen=True, slots=True)
class Progress:
    """One progress report: seconds of output written so far, out of ``total`` (if known)."""

    done: float
    total: float | None
    speed: float | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))


@dataclass(frozen=True, slots=True)
class RunResult:
    argv: tuple[str, ...]
    elapsed: float
    stderr_tail: str


# Children alive right now, so Ctrl-C in a batch (or cancel_all from any thread) can end them all.
_ACTIVE: set[subprocess.Popen[bytes]] = set()
_ACTIVE_LOCK = threading.Lock()
_CANCELLED = threading.Event()


def cancel_all() -> None:
    """Kill every running FFmpeg child and make further runs fail at once (used on Ctrl-C)."""
    _CANCELLED.set()
    with _ACTIVE_LOCK:
        procs = list(_ACTIVE)
    for proc in procs:
        _kill(proc)


def reset_cancel() -> None:
    """Allow runs again after :func:`cancel_all` (for long-lived processes and tests)."""
    _CANCELLED.clear()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _spawn(argv: list[str], *, stdout: int) -> subprocess.Popen[bytes]:
    log.info("ffmpeg: %s", shlex.join(argv))
    # Checking for cancellation and registering the child under one lock: cancel_all either
    # sees this child or this call sees the cancellation, never neither.
    with _ACTIVE_LOCK:
        if _CANCELLED.is_set():
            raise FFmpegError("FFmpeg was cancelled", argv=argv)
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.PIPE,
                start_new_session=True,  # Ctrl-C goes to preflight, which kills the child itself
            )
        except OSError as exc:
            raise FFmpegError(f"could not start FFmpeg: {exc}", argv=argv) from exc
        _ACTIVE.add(proc)
    return proc


def _release(proc: subprocess.Popen[bytes], drainer: threading.Thread) -> None:
    """Kill the child if still alive, forget it, and close its pipes."""
    _kill(proc)
    with _ACTIVE_LOCK:
        _ACTIVE.discard(proc)
    drainer.join(timeout=5)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def _drain(pipe: IO[bytes], tail: collections.deque[str]) -> threading.Thread:
    def pump() -> None:
        for raw in iter(pipe.readline, b""):
            tail.append(raw.decode("utf-8", "replace").rstrip())

    thread = threading.Thread(target=pump, name="ffmpeg-stderr", daemon=True)
    thread.start()
    return thread


class _Watchdog:
    """Kills the child after ``timeout`` seconds and remembers that it did."""

    def __init__(self, proc: subprocess.Popen[bytes], timeout: float | None) -> None:
        self.fired = threading.Event()
        self.timer: threading.Timer | None = None
        if timeout is not None:
            self.timer = threading.Timer(timeout, self._fire, args=(proc,))
            self.timer.daemon = True
            self.timer.start()

    def _fire(self, proc: subprocess.Popen[bytes]) -> None:
        self.fired.set()
        _kill(proc)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def run(
    args: Sequence[str],
    *,
    duration: float | None = None,
    timeout: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    show_progress: bool = False,
    label: str = "ffmpeg",
) -> RunResult:
    """Run FFmpeg with ``args`` (everything after the binary) and wait for it to finish.

    ``duration`` is the expected output length in seconds, for the progress fraction and ETA.
    ``show_progress`` draws a bar with ETA on stderr when stderr is a terminal.
    """
    argv = run_argv(args)
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    started = time.monotonic()
    proc = _spawn(argv, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stderr is not None
    drainer = _drain(proc.stderr, tail)
    watchdog = _Watchdog(proc, timeout)
    bar = _ProgressBar(label, duration) if show_progress and _isatty(sys.stderr) else None
    try:
        values: dict[str, str] = {}
        for raw in iter(proc.stdout.readline, b""):
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            values[key] = value
            if key != "progress":
                continue
            report = _parse_progress(values, duration)
            if bar is not None:
                bar.update(report)
            if on_progress is not None:
                on_progress(report)
        returncode = proc.wait()
    finally:
        watchdog.cancel()
        _release(proc, drainer)
        if bar is not None:
            bar.close()
    elapsed = time.monotonic() - started
    stderr_tail = "\n".join(tail)
    if watchdog.fired.is_set():
        raise FFmpegTimeoutError(
            f"FFmpeg took longer than {timeout:g} s and was stopped",
            argv=argv,
            stderr_tail=stderr_tail,
        )
    if _CANCELLED.is_set():  # even a run that finished: its output must not be used
        raise FFmpegError("FFmpeg was cancelled", argv=argv, stderr_tail=stderr_tail)
    if returncode != 0:
        raise FFmpegError(
            f"FFmpeg failed with exit status {returncode}", argv=argv, stderr_tail=stderr_tail
        )
    return RunResult(argv=tuple(argv), elapsed=elapsed, stderr_tail=stderr_tail)


def _parse_progress(values: dict[str, str], total: float | None) -> Progress:
    done = 0.0
    for key, scale in (("out_time_us", 1e-6), ("out_time_ms", 1e-6)):
        raw = values.get(key, "")
        if raw.lstrip("-").isdigit():
            done = max(0.0, int(raw) * scale)
            break
    speed_raw = values.get("speed", "").rstrip("x").strip()
    try:
        speed: float | None = float(speed_raw)
    except ValueError:
        speed = None
    if values.get("progress") == "end" and total:
        done = total
    return Progress(done=done, total=total, speed=speed)


def stream(
    args: Sequence[str], *, timeout: float | None = None, chunk_size: int = 1 << 16
) -> Iterator[bytes]:
    """Run FFmpeg writing to ``pipe:1`` and yield its stdout in chunks of ``chunk_size`` bytes.

    The last chunk may be shorter. Closing the iterator early kills the child.
    """
    argv = full_argv(args)
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    proc = _spawn(argv, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stderr is not None
    drainer = _drain(proc.stderr, tail)
    watchdog = _Watchdog(proc, timeout)
    finished = False
    try:
        while True:
            chunk = _read_exact(proc.stdout, chunk_size)
            if not chunk:
                break
            yield chunk
        returncode = proc.wait()
        finished = True
    finally:
        watchdog.cancel()
        _release(proc, drainer)
    if finished and returncode != 0:
        stderr_tail = "\n".join(tail)
        if watchdog.fired.is_set():
            raise FFmpegTimeoutError(
                f"FFmpeg took longer than {timeout:g} s and was stopped",
                argv=argv,
                stderr_tail=stderr_tail,
            )
        raise FFmpegError(
            f"FFmpeg failed with exit status {returncode}", argv=argv, stderr_tail=stderr_tail
        )


def _read_exact(pipe: IO[bytes], size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        data = pipe.read(remaining)
        if not data:
            break
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)


def read_frames(
    source: str | os.PathLike[str],
    *,
    width: int,
    height: int,
    fps: float | None = None,
    start: float | None = None,
    duration: float | None = None,
    pix_fmt: str = "rgb24",
    timeout: float | None = None,
) -> Iterator[bytes]:
    """Decoded frames of ``source`` as raw ``pix_fmt`` bytes, scaled to ``width`` x ``height``.

    Rotation is applied (what a viewer sees). ``fps`` samples that many frames per second;
    ``start``/``duration`` choose a window in seconds. Each item is exactly one frame
    (``width * height * 3`` bytes for rgb24/bgr24): ``numpy.frombuffer(f, numpy.uint8)
    .reshape(height, width, 3)`` makes an image of it.
    """
    bytes_per_pixel = {"rgb24": 3, "bgr24": 3, "gray": 1, "rgba": 4, "bgra": 4}
    if pix_fmt not in bytes_per_pixel:
        raise ValueError(f"unsupported pix_fmt {pix_fmt!r}; use one of {sorted(bytes_per_pixel)}")
    args: list[str] = ["-loglevel", "error"]
    if start is not None:
        args += ["-ss", f"{start:.3f}"]
    if duration is not None:
        args += ["-t", f"{duration:.3f}"]
    args += [*input_args(source), "-map", "0:v:0", "-an", "-sn", "-dn"]
    filters = [] if fps is None else [f"fps={fps:g}"]
    filters.append(f"scale={width}:{height}")
    args += ["-vf", ",".join(filters), "-f", "rawvideo", "-pix_fmt", pix_fmt, "pipe:1"]
    frame_size = width * height * bytes_per_pixel[pix_fmt]
    for chunk in stream(args, timeout=timeout, chunk_size=frame_size):
        if len(chunk) == frame_size:
            yield chunk


class TempOutput:
    """A temp file beside ``target``; ``commit()`` moves it into place, anything else removes it.

    ::

        with TempOutput(target) as tmp:
            run([... , str(tmp.path)])
            verify(tmp.path)
            tmp.commit()
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)
        self.path = temp_path_for(self.target)
        self.committed = False

    def __enter__(self) -> TempOutput:
        if not self.target.parent.is_dir():
            raise FixError(f"output folder does not exist: {self.target.parent}")
        return self

    def commit(self) -> Path:
        os.replace(self.path, self.target)
        self.committed = True
        return self.target

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.committed:
            self.discard()


def _isatty(stream_: IO[str]) -> bool:
    try:
        return stream_.isatty()
    except (AttributeError, ValueError):
        return False


class _ProgressBar:
    """A one-line bar with percentage and ETA on stderr (drawn only on a terminal)."""

    WIDTH = 30

    def __init__(self, label: str, total: float | None) -> None:
        self.label = label
        self.total = total
        self.started = time.monotonic()
        self.drawn = False

    def update(self, report: Progress) -> None:
        fraction = report.fraction
        elapsed = time.monotonic() - self.started
        if fraction is None:
            line = f"{self.label}  {report.done:6.1f} s written"
        else:
            filled = int(fraction * self.WIDTH)
            eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
            eta_text = f"ETA {_clock(eta)}" if eta is not None else "ETA --:--"
            line = (
                f"{self.label}  [{'#' * filled}{'-' * (self.WIDTH - filled)}] "
                f"{fraction * 100:5.1f}%  {eta_text}"
            )
        sys.stderr.write("\r\x1b[2K" + line)
        sys.stderr.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"
