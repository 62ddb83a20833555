"""Probing many inputs at once: in order, on all cores, one failure never stops the rest.

With the cache on, every local input is looked up in one query first, only the misses are
probed, and their facts are stored in one transaction at the end.

Threads, not processes: pymediainfo calls libmediainfo through ``ctypes.CDLL``, which releases the
GIL for the duration of each foreign call, and nearly all of a probe's time is spent inside those
calls (parsing) or waiting on ffprobe child processes. A process pool pays worker start-up and
library loading per process, which costs more than a whole batch of a few hundred clips gains
(docs/probe.md has the measurements). MP4/MOV files the pure-Python fast path reads (`_isobmff`)
are read first in the calling thread: that reader holds the GIL, so threads would only take
turns on it. An ``InputError`` is returned in its input's slot; anything else (a missing
ffprobe) propagates.
"""

from __future__ import annotations

import os

from preflight.model.errors import InputError
from preflight.model.facts import MediaFacts
from preflight.model.sources import is_url

__all__ = ["run_many"]

Result = MediaFacts | InputError


def _one(source: str, backend: str) -> Result:
    from preflight.probing import probe

    try:
        return probe(source, backend=backend)
    except InputError as exc:
        return exc


def run_many(
    sources: list[str | os.PathLike[str]], *, backend: str, cache: bool, workers: int | None
) -> list[Result]:
    texts = [os.fspath(s) for s in sources]
    results: list[Result | None] = [None] * len(texts)
    stats: dict[int, os.stat_result] = {}
    store = None
    if cache:
        from preflight.probing import _cache, resolve_backend
        from preflight.probing._local import check_path

        store = _cache.open_cache()
        for i, text in enumerate(texts):
            if is_url(text):
                continue
            try:
                stats[i] = check_path(text)
            except InputError as exc:
                results[i] = exc
        if store is not None:
            order = sorted(stats)
            hits = store.get_many([(texts[i], stats[i]) for i in order], resolve_backend(backend))
            for i, hit in zip(order, hits, strict=True):
                results[i] = hit
    todo = [i for i, r in enumerate(results) if r is None]
    for i, result in zip(todo, _probe_all([texts[i] for i in todo], backend, workers), strict=True):
        results[i] = result
    if store is not None:
        from preflight.probing import resolve_backend

        fresh = [
            (texts[i], stats[i], r)
            for i in todo
            if i in stats and isinstance((r := results[i]), MediaFacts)
        ]
        store.put_many(fresh, resolve_backend(backend))
    done = [r for r in results if r is not None]
    assert len(done) == len(texts)
    return done


def _fast(source: str, backend: str) -> Result | None:
    from preflight.probing import probe_fast

    try:
        return probe_fast(source, backend=backend)
    except InputError as exc:
        return exc


def _probe_all(texts: list[str], backend: str, workers: int | None) -> list[Result]:
    count = min(workers or os.cpu_count() or 1, len(texts))
    if count <= 1:
        return [_one(t, backend) for t in texts]
    # the pure-Python MP4/MOV reader holds the GIL: threads would only take turns on it and pay
    # for the switching (a batch of 2,000 took 1.7x the wall time on 2 threads as on 1), so it
    # runs here first, and only what it leaves (MediaInfo, ffprobe: GIL released) goes to threads
    results = [_fast(t, backend) for t in texts]
    rest = [i for i, r in enumerate(results) if r is None]
    if len(rest) <= 1:
        return [r if r is not None else _one(texts[i], backend) for i, r in enumerate(results)]
    from concurrent.futures import ThreadPoolExecutor  # with logging: ~5 ms a run needs not pay

    with ThreadPoolExecutor(max_workers=min(count, len(rest))) as pool:
        for i, result in zip(rest, pool.map(lambda i: _one(texts[i], backend), rest), strict=True):
            results[i] = result
    done = [r for r in results if r is not None]
    assert len(done) == len(texts)
    return done
