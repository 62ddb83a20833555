"""The pooled libmediainfo binding: what pymediainfo reports, handles reused, threads apart."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pymediainfo import MediaInfo

from preflight.probing import _libmediainfo

CLIPS = ("ok", "ok_mov", "short", "small", "rotated", "avi", "mkv")


@pytest.mark.parametrize("name", CLIPS)
def test_same_report_as_pymediainfo(media: Callable[[str], Path], name: str) -> None:
    path = media(name)
    with path.open("rb") as fh:
        ours = _libmediainfo.inform(fh, 0)
    with path.open("rb") as fh:
        theirs = MediaInfo.parse(fh, parse_speed=0, full=False, output="JSON")
    assert json.loads(ours) == json.loads(theirs)


def test_parse_speed_follows_each_call(media: Callable[[str], Path]) -> None:
    """A handle configured for one speed answers at another when asked (the pool re-sets it)."""
    path = media("avi")
    reports = []
    for speed in (0.0, 1.0, 0.0):
        with path.open("rb") as fh:
            reports.append(_libmediainfo.inform(fh, speed))
        with path.open("rb") as fh:
            expected = MediaInfo.parse(fh, parse_speed=speed, full=False, output="JSON")
        assert json.loads(reports[-1]) == json.loads(expected)


def test_threads_get_their_own_handle_and_the_pool_stays_small(
    media: Callable[[str], Path],
) -> None:
    paths = [media(n) for n in CLIPS] * 6

    def one(path: Path) -> str:
        with path.open("rb") as fh:
            return _libmediainfo.inform(fh, 0)

    serial = [one(p) for p in paths]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(one, paths))
    assert threaded == serial
    assert len(_libmediainfo._POOL._free) <= 4 + 1  # one per concurrent probe, kept for reuse
