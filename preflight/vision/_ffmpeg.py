"""Run FFmpeg with its output read from a pipe in fixed-size chunks (raw video frames).

Until the shared runner (`preflight.ffmpeg_runner`) offers a streaming helper, this is the one
place the vision package starts FFmpeg. The habits are the runner's: argv as a list, logged with
``shlex.join``; ``-hide_banner -nostdin``; the child killed in ``finally``; failures raised as
`FFmpegError` carrying the command and the tail of stderr.
"""

from __future__ import annotations

import collections
import logging
import queue
import shlex
import subprocess
import threading
from collections.abc import Iterator
from typing import IO

from preflight.errors import FFmpegError
from preflight.tools import ffmpeg_path

__all__ = ["stream_raw"]

log = logging.getLogger("preflight.vision")

_TAIL_LINES = 20
_READ_AHEAD = 8  # chunks FFmpeg may decode ahead of the consumer
_END = b""


def _drain(pipe: IO[bytes], tail: collections.deque[str]) -> None:
    for line in iter(pipe.readline, b""):
        tail.append(line.decode("utf-8", "replace").rstrip())


def _read_ahead(pipe: IO[bytes], size: int, out: queue.Queue[bytes], stop: threading.Event) -> None:
    """Read exact chunks into ``out`` so FFmpeg keeps decoding while the consumer works."""
    while not stop.is_set():
        chunk = pipe.read(size)
        if len(chunk) < size:
            break
        while not stop.is_set():
            try:
                out.put(chunk, timeout=0.1)
                break
            except queue.Full:
                continue
    while not stop.is_set():
        try:
            out.put(_END, timeout=0.1)
            return
        except queue.Full:
            continue


def stream_raw(args: list[str], chunk_size: int) -> Iterator[bytes]:
    """Run ``ffmpeg <args>`` and yield its stdout in chunks of exactly ``chunk_size`` bytes.

    A trailing partial chunk is dropped. Closing the iterator early kills FFmpeg.
    """
    argv = [ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", *args]
    log.debug("ffmpeg: %s", shlex.join(argv))
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise FFmpegError(f"could not start FFmpeg: {exc}", argv=argv) from exc
    assert proc.stdout is not None
    assert proc.stderr is not None
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    reader = threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True)
    reader.start()
    chunks: queue.Queue[bytes] = queue.Queue(maxsize=_READ_AHEAD)
    stop = threading.Event()
    ahead = threading.Thread(
        target=_read_ahead, args=(proc.stdout, chunk_size, chunks, stop), daemon=True
    )
    ahead.start()
    finished = False
    try:
        while chunk := chunks.get():
            yield chunk
        code = proc.wait()
        reader.join()
        ahead.join()
        finished = True
        if code != 0:
            raise FFmpegError(
                f"FFmpeg failed (exit {code}) while sampling frames",
                argv=argv,
                stderr_tail="\n".join(tail),
            )
    finally:
        if not finished:
            stop.set()
            proc.kill()
            proc.wait()
            reader.join()
            ahead.join()
        proc.stdout.close()
        proc.stderr.close()
