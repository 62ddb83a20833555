"""Remote inputs (``http(s)://``): probe without downloading the whole file where possible.

The first request is a ranged GET for the head of the file. If the server answers ``206`` with a
``Content-Range`` total, it serves ranges: the MediaInfo backend then reads the URL through
``RangeReader``, a seekable file object that fetches only the blocks MediaInfo (and the sniff)
actually ask for, and hands it to MediaInfo's buffer API. That reads exactly what the parser
needs (the head, the index wherever it is, a few frames) with no guess about how much head or
tail is enough (an index at the end of a long clip can be megabytes), and writes nothing to
disk. The ffprobe backend is given the URL itself: FFmpeg's http protocol does its own ranges.

If the server ignores ranges (``200``), the body is streamed to a temporary file, up to a size
cap (``$PREFLIGHT_MAX_DOWNLOAD_BYTES``, default a little above the largest profile limit), and
probed as a local file; beyond the cap the probe stops with a clear error. ``size_bytes`` is the
server's total (``Content-Range``) or ``Content-Length``. URL probes are never cached.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import unquote, urlsplit

from preflight.model.errors import InputError
from preflight.model.facts import MediaFacts
from preflight.model.sources import is_url

if TYPE_CHECKING:
    import httpx

__all__ = ["BLOCK_BYTES", "DEFAULT_MAX_DOWNLOAD_BYTES", "RangeReader", "is_url", "probe_url"]

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


def _extension(url: str) -> str:
    from preflight.probing import extension_of

    name = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
    return extension_of(name)


def _http_error(url: str, exc: Exception) -> InputError:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return InputError(f"the server did not answer within {TIMEOUT_S:.0f} s", source=url)
    if isinstance(exc, httpx.HTTPError):
        return InputError(f"could not fetch it: {exc}", source=url)
    return InputError(f"could not fetch it: {exc}", source=url)


def _status_error(url: str, response: httpx.Response) -> InputError:
    return InputError(
        f"the server answered HTTP {response.status_code} {response.reason_phrase}".rstrip(),
        source=url,
    )


def probe_url(url: str, *, backend: str) -> MediaFacts:
    """Probe an ``http(s)://`` URL (see the module docstring for how much is fetched)."""
    import httpx

    try:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=True) as client:
            headers = {"Range": f"bytes=0-{BLOCK_BYTES - 1}", "Accept-Encoding": "identity"}
            with client.stream("GET", url, headers=headers) as response:
                if response.status_code == 206:
                    total, first = _ranged_head(url, response)
                    if total is not None:
                        return _probe_ranged(client, url, total, first, backend)
                    # no total: fetch the whole thing the plain way below
                elif response.status_code == 416:
                    raise InputError("empty file (0 bytes)", source=url)
                elif response.status_code != 200:
                    raise _status_error(url, response)
                else:
                    return _probe_download(url, response, backend)
            with client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response:
                if response.status_code != 200:
                    raise _status_error(url, response)
                return _probe_download(url, response, backend)
    except httpx.HTTPError as exc:
        raise _http_error(url, exc) from exc


def _ranged_head(url: str, response: httpx.Response) -> tuple[int | None, bytes]:
    match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
    body = response.read()
    if match is None or match.group(3) == "*" or int(match.group(1)) != 0:
        return None, body
    return int(match.group(3)), body


def _probe_ranged(
    client: httpx.Client, url: str, total: int, first: bytes, backend: str
) -> MediaFacts:
    from preflight.probing import read_open

    if total == 0:
        raise InputError("empty file (0 bytes)", source=url)
    reader = RangeReader(client, url, total, first, max_fetch=max_download_bytes())
    return read_open(
        cast(BinaryIO, reader),
        total,
        source=url,
        extension=_extension(url),
        backend=backend,
        path=url,
    )


def _probe_download(url: str, response: httpx.Response, backend: str) -> MediaFacts:
    from preflight.probing import read_open

    cap = max_download_bytes()
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise InputError(_too_big(int(declared), cap), source=url)
    with tempfile.NamedTemporaryFile(prefix="preflight-", suffix=".download") as tmp:
        size = 0
        for chunk in response.iter_bytes():
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
    ) -> None:
        super().__init__()
        self._client = client
        self._url = url
        self._size = size
        self._block = block
        self._blocks: dict[int, bytes] = {}
        self._pos = 0
        self._max_fetch = max_fetch
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
        response = self._client.get(
            self._url, headers={"Range": f"bytes={start}-{end}", "Accept-Encoding": "identity"}
        )
        if response.status_code != 206:
            raise _status_error(self._url, response)
        data = response.content
        if len(data) != end - start + 1:
            raise InputError(
                f"the server sent {len(data)} bytes for a {end - start + 1}-byte range",
                source=self._url,
            )
        self.fetched += len(data)
        self.requests += 1
        self._blocks[index] = data
        return data
