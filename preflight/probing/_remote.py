"""Remote inputs (``http(s)://``): probe without downloading the whole file where possible.

The first request is a ranged GET for the head of the file. If the server answers ``206`` with a
``Content-Range`` total, it serves ranges: the MediaInfo backend then reads the URL through
``RangeReader``, a seekable file object that fetches only the blocks MediaInfo (and the sniff)
actually ask for, and hands it to MediaInfo's buffer API. That reads exactly what the parser
needs (the head, the index wherever it is, a few frames) with no guess about how much head or
tail is enough (an index at the end of a long clip can be megabytes), and writes nothing to
disk.

If the server ignores ranges (``200``), or the backend is ffprobe, the body is streamed to a
temporary file, up to a size cap (``$PREFLIGHT_MAX_DOWNLOAD_BYTES``, default a little above the
largest profile limit), and probed as a local file; beyond the cap the probe stops with a clear
error. ffprobe is never given the URL: it would fetch it again by itself, with its own user
agent (a server can answer it with something else, e.g. a playlist naming other hosts), outside
preflight's caps. It reads only the local copy, with the same protocol (``file,pipe``) and
demuxer whitelists as any local input.

Every fetch runs under one overall deadline (``$PREFLIGHT_URL_TIMEOUT``, ``--url-timeout``,
default 60 s) on top of the per-read timeout, so a server that drips bytes or header lines ends
in a clear ``InputError`` instead of a hang; redirects are followed over http(s) only, at most 5
hops (:mod:`preflight.client.deadline`). ``size_bytes`` is the server's total
(``Content-Range``) or ``Content-Length``. URL probes are never cached.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import unquote, urlsplit

from preflight.model.errors import InputError
from preflight.model.facts import MediaFacts
from preflight.model.sources import is_url
from preflight.toolchain.leftovers import OWNER_PATTERN, owner_tag, sweep

if TYPE_CHECKING:
    import httpx

    from preflight.client.deadline import Deadline

__all__ = [
    "BLOCK_BYTES",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "RangeReader",
    "is_url",
    "probe_url",
    "url_timeout",
    "url_timeout_set",
]

BLOCK_BYTES = 256 * 1024
DEFAULT_MAX_DOWNLOAD_BYTES = 110 * 1024 * 1024  # the largest profile limit is 100 MB (104857600)
TIMEOUT_S = 30.0
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def max_download_bytes() -> int:
    """The download cap for servers without range support."""
    env = os.environ.get("PREFLIGHT_MAX_DOWNLOAD_BYTES")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    return DEFAULT_MAX_DOWNLOAD_BYTES


def url_timeout() -> float:
    """The overall deadline of one URL probe in seconds (``$PREFLIGHT_URL_TIMEOUT``, or 60)."""
    from preflight.client.deadline import timeout_from_env

    return timeout_from_env(os.environ.get("PREFLIGHT_URL_TIMEOUT"))


@contextlib.contextmanager
def url_timeout_set(seconds: float | None) -> Iterator[None]:
    """Run a command with ``--url-timeout``: the probes it starts (in any thread) read it from
    ``$PREFLIGHT_URL_TIMEOUT``, which is restored afterwards. ``None`` leaves it as it is."""
    if seconds is None:
        yield
        return
    before = os.environ.get("PREFLIGHT_URL_TIMEOUT")
    os.environ["PREFLIGHT_URL_TIMEOUT"] = repr(float(seconds))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PREFLIGHT_URL_TIMEOUT", None)
        else:
            os.environ["PREFLIGHT_URL_TIMEOUT"] = before


def _extension(url: str) -> str:
    from preflight.probing import extension_of

    name = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
    return extension_of(name)


def _http_error(url: str, exc: Exception, deadline: Deadline) -> InputError:
    from preflight.client.deadline import fetch_problem

    return InputError(fetch_problem(exc, deadline), source=url)


def _status_error(url: str, response: httpx.Response) -> InputError:
    return InputError(
        f"the server answered HTTP {response.status_code} {response.reason_phrase}".rstrip(),
        source=url,
    )


def probe_url(url: str, *, backend: str, timeout: float | None = None) -> MediaFacts:
    """Probe an ``http(s)://`` URL (see the module docstring for how much is fetched).

    ``timeout`` is the overall deadline in seconds (default :func:`url_timeout`).
    """
    import httpx

    from preflight.client.deadline import Deadline, deadline_client

    deadline = Deadline(url_timeout() if timeout is None else timeout)
    try:
        with deadline_client(deadline, read_timeout=TIMEOUT_S) as client:
            headers = {"Range": f"bytes=0-{BLOCK_BYTES - 1}", "Accept-Encoding": "identity"}
            with client.stream("GET", url, headers=headers) as response:
                if response.status_code == 206:
                    total, first = _ranged_head(url, response, deadline)
                    if total is not None and backend != "ffprobe":
                        return _probe_ranged(client, url, total, first, backend, deadline)
                    # no total, or ffprobe (which gets a local copy): the plain way below
                elif response.status_code == 416:
                    raise InputError("empty file (0 bytes)", source=url)
                elif response.status_code != 200:
                    raise _status_error(url, response)
                else:
                    return _probe_download(url, response, backend, deadline)
            with client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response:
                if response.status_code != 200:
                    raise _status_error(url, response)
                return _probe_download(url, response, backend, deadline)
    except httpx.HTTPError as exc:
        raise _http_error(url, exc, deadline) from exc


def _ranged_head(
    url: str, response: httpx.Response, deadline: Deadline
) -> tuple[int | None, bytes]:
    match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        deadline.check()
        size += len(chunk)
        if size > BLOCK_BYTES:  # a server that ignores the range it was asked for
            raise InputError(
                f"the server sent more than the {BLOCK_BYTES} bytes asked for", source=url
            )
        chunks.append(chunk)
    body = b"".join(chunks)
    if match is None or match.group(3) == "*" or int(match.group(1)) != 0:
        return None, body
    return int(match.group(3)), body


def _probe_ranged(
    client: httpx.Client, url: str, total: int, first: bytes, backend: str, deadline: Deadline
) -> MediaFacts:
    from preflight.probing import read_open

    if total == 0:
        raise InputError("empty file (0 bytes)", source=url)
    reader = RangeReader(
        client, url, total, first, max_fetch=max_download_bytes(), deadline=deadline
    )
    return read_open(
        cast(BinaryIO, reader),
        total,
        source=url,
        extension=_extension(url),
        backend=backend,
        path=url,
    )


def _probe_download(
    url: str, response: httpx.Response, backend: str, deadline: Deadline
) -> MediaFacts:
    from preflight.probing import read_open

    cap = max_download_bytes()
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise InputError(_too_big(int(declared), cap), source=url)
    _sweep_downloads()
    # the owner in the name lets a later run remove it if this process is killed (kill -9)
    prefix = f"preflight-{owner_tag()}-"
    with tempfile.NamedTemporaryFile(prefix=prefix, suffix=".download") as tmp:
        size = 0
        for chunk in response.iter_bytes():
            deadline.check()
            size += len(chunk)
            if size > cap:
                raise InputError(_too_big(None, cap), source=url)
            tmp.write(chunk)
        tmp.flush()
        if size == 0:
            raise InputError("empty file (0 bytes)", source=url)
        tmp.seek(0)
        return read_open(
            cast(BinaryIO, tmp),
            size,
            source=url,
            extension=_extension(url),
            backend=backend,
            path=tmp.name,
        )


@functools.cache
def _sweep_downloads() -> None:
    """Once per process: remove downloads left in the temp directory by killed preflights."""
    sweep(tempfile.gettempdir(), rf"preflight-{OWNER_PATTERN}-[^/]*\.download")


def _too_big(size: int | None, cap: int) -> str:
    what = f"it is {size} bytes" if size is not None else "it is larger than that"
    return (
        f"the server does not support range requests, so the file must be downloaded to be "
        f"probed, and {what}: above the {cap}-byte download limit "
        f"(set PREFLIGHT_MAX_DOWNLOAD_BYTES to raise it)"
    )


class RangeReader(io.RawIOBase):
    """A read-only, seekable file over HTTP range requests, fetched in cached blocks.

    ``max_fetch`` bounds the bytes fetched in total, so a parser that wanders never pulls a
    huge file through a "header-only" probe.
    """

    def __init__(
        self,
        client: httpx.Client,
        url: str,
        size: int,
        first: bytes,
        *,
        block: int = BLOCK_BYTES,
        max_fetch: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        deadline: Deadline | None = None,
    ) -> None:
        super().__init__()
        self._client = client
        self._url = url
        self._size = size
        self._block = block
        self._blocks: dict[int, bytes] = {}
        self._pos = 0
        self._max_fetch = max_fetch
        self._deadline = deadline
        self.fetched = len(first)
        self.requests = 1
        for index in range(len(first) // block):
            self._blocks[index] = first[index * block : (index + 1) * block]
        tail = len(first) % block
        if tail and len(first) >= size:
            self._blocks[len(first) // block] = first[-tail:]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._size - self._pos)
        done = 0
        while done < want:
            index, start = divmod(self._pos + done, self._block)
            data = self._get(index)
            piece = data[start : start + want - done]
            if not piece:
                break
            view[done : done + len(piece)] = piece
            done += len(piece)
        self._pos += done
        return done

    def _get(self, index: int) -> bytes:
        data = self._blocks.get(index)
        if data is not None:
            return data
        start = index * self._block
        end = min(start + self._block, self._size) - 1
        if self.fetched + (end - start + 1) > self._max_fetch:
            raise InputError(
                f"probing it would fetch more than {self._max_fetch} bytes", source=self._url
            )
        if self._deadline is not None:
            self._deadline.check()
        data = self._range(start, end)
        if len(data) != end - start + 1:
            raise InputError(
                f"the server sent {len(data)} bytes for a {end - start + 1}-byte range",
                source=self._url,
            )
        self.fetched += len(data)
        self.requests += 1
        self._blocks[index] = data
        return data

    def _range(self, start: int, end: int) -> bytes:
        """Bytes ``start..end``; a server that sends more than asked is cut off, not buffered."""
        import httpx

        headers = {"Range": f"bytes={start}-{end}", "Accept-Encoding": "identity"}
        chunks: list[bytes] = []
        size = 0
        try:
            with self._client.stream("GET", self._url, headers=headers) as response:
                if response.status_code != 206:
                    raise _status_error(self._url, response)
                for chunk in response.iter_bytes():
                    if self._deadline is not None:
                        self._deadline.check()
                    size += len(chunk)
                    if size > end - start + 1:
                        raise InputError(
                            f"the server sent more than the {end - start + 1} bytes asked for",
                            source=self._url,
                        )
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            if self._deadline is None:
                raise InputError(f"could not fetch it: {exc}", source=self._url) from exc
            raise _http_error(self._url, exc, self._deadline) from exc
        return b"".join(chunks)
