"""Raw frames from FFmpeg (through `preflight.toolchain.runner.stream`), read ahead in a thread.

The runner's `stream` reads the pipe only when asked for the next chunk, so FFmpeg would wait
while a frame is being analysed. Reading a few frames ahead in a thread lets decoding and face
detection overlap on two cores (see ``benchmarks/face_speed.py``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from preflight.toolchain import runner

__all__ = ["stream_raw"]

_READ_AHEAD = 8  # frames FFmpeg may decode ahead of the consumer
_POLL = 0.1  # seconds between looks at the stop flag while the queue is full


class _End:
    """The reader is done: ``error`` is what stopped it, if anything."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def _read(
    args: list[str], size: int, out: queue.Queue[bytes | _End], stop: threading.Event
) -> None:
    chunks = runner.stream(args, chunk_size=size)
    end = _End()
    try:
        for chunk in chunks:
            if len(chunk) < size:
                continue  # a trailing partial frame
            while not stop.is_set():
                try:
                    out.put(chunk, timeout=_POLL)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                break
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread, re-raised there
        end = _End(exc)
    finally:
        close = getattr(chunks, "close", None)  # a generator: closing it kills FFmpeg
        if close is not None:
            close()
    while not stop.is_set():
        try:
            out.put(end, timeout=_POLL)
            return
        except queue.Full:
            continue


def stream_raw(args: list[str], chunk_size: int) -> Iterator[bytes]:
    """Run ``ffmpeg <args>`` (writing to ``pipe:1``) and yield chunks of exactly ``chunk_size``.

    FFmpeg's errors (`FFmpegError`) are raised here, in the caller's thread. Closing the iterator
    early stops the reader and kills FFmpeg.
    """
    out: queue.Queue[bytes | _End] = queue.Queue(maxsize=_READ_AHEAD)
    stop = threading.Event()
    reader = threading.Thread(
        target=_read, args=(args, chunk_size, out, stop), name="preflight-frames", daemon=True
    )
    reader.start()
    try:
        while True:
            item = out.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        reader.join()
