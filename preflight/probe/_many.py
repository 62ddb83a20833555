"""Probing many inputs at once: in order, on all cores, one failure never stops the rest."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from preflight.errors import InputError
from preflight.facts import MediaFacts

__all__ = ["run_many"]


def _one(source: str | os.PathLike[str], backend: str, cache: bool) -> MediaFacts | InputError:
    from preflight.probe import probe

    try:
        return probe(source, backend=backend, cache=cache)
    except InputError as exc:
        return exc


def run_many(
    sources: list[str | os.PathLike[str]], *, backend: str, cache: bool, workers: int | None
) -> list[MediaFacts | InputError]:
    if not sources:
        return []
    count = workers or os.cpu_count() or 1
    if count == 1 or len(sources) == 1:
        return [_one(s, backend, cache) for s in sources]
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda s: _one(s, backend, cache), sources))
