"""The probe cache: real SQLite in a temporary cache dir; never a reason for a probe to fail."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from preflight.model.errors import InputError
from preflight.model.facts import MediaFacts
from preflight.probing import _cache, probe, probe_many

Media = Callable[[str], Path]
MARK = "marked-in-cache"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "cache"
    monkeypatch.setenv("PREFLIGHT_CACHE_DIR", str(path))
    yield path
    _cache.close_all()


@pytest.fixture
def clip(media: Media, tmp_path: Path) -> Path:
    target = tmp_path / "clip.mp4"
    shutil.copyfile(media("ok"), target)
    return target


def _db(cache_dir: Path) -> Path:
    return cache_dir / f"probe-v{_cache.SCHEMA}.sqlite3"


def _sql(cache_dir: Path, query: str, *args: object) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(_db(cache_dir))) as conn, conn:
        return list(conn.execute(query, args))


def _rows(cache_dir: Path) -> list[tuple[object, ...]]:
    return _sql(cache_dir, "SELECT path, backend, schema FROM facts ORDER BY path, backend")


def _mark(cache_dir: Path) -> None:
    """Change every stored record so a cache hit can be told from a fresh probe."""
    for path, backend, record in _sql(cache_dir, "SELECT path, backend, record FROM facts"):
        data = json.loads(str(record))
        data[_cache.RECORD_FIELDS.index("container")] = MARK
        _sql(
            cache_dir,
            "UPDATE facts SET record=? WHERE path=? AND backend=?",
            json.dumps(data),
            path,
            backend,
        )


def test_second_probe_comes_from_the_cache(cache_dir: Path, clip: Path) -> None:
    first = probe(clip, cache=True)
    assert _rows(cache_dir) == [(str(clip.resolve()), "mediainfo", _cache.ROW_SCHEMA)]
    _mark(cache_dir)
    hit = probe(clip, cache=True)
    assert hit.container == MARK
    assert hit.video == first.video
    assert probe(clip).container == "mp4"  # cache=False never looks


def test_cache_key_is_size_mtime_and_backend(cache_dir: Path, clip: Path) -> None:
    probe(clip, cache=True)
    probe(clip, backend="ffprobe", cache=True)
    assert [row[1] for row in _rows(cache_dir)] == ["ffprobe", "mediainfo"]
    _mark(cache_dir)
    assert probe(clip, backend="ffprobe", cache=True).container == MARK
    st = clip.stat()
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert probe(clip, cache=True).container == "mp4"  # mtime changed: a miss, re-probed
    _mark(cache_dir)
    with clip.open("ab") as fh:
        fh.write(b"\0" * 16)  # size changes (the mtime may or may not)
    fresh = probe(clip, cache=True)
    assert fresh.container == "mp4"
    assert fresh.size_bytes == st.st_size + 16


def test_a_file_replaced_with_the_same_size_and_mtime_is_a_miss(
    cache_dir: Path, clip: Path, tmp_path: Path
) -> None:
    """A copy moved over the file (``cp -p``, a sync tool) keeps size and mtime: its inode
    tells it apart."""
    probe(clip, cache=True)
    _mark(cache_dir)
    assert probe(clip, cache=True).container == MARK
    st = clip.stat()
    twin = tmp_path / "twin.mp4"
    shutil.copyfile(clip, twin)
    os.utime(twin, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(twin, clip)
    now = clip.stat()
    assert (now.st_size, now.st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert now.st_ino != st.st_ino
    assert probe(clip, cache=True).container == "mp4"
    _mark(cache_dir)
    (many,) = probe_many([clip], cache=True)
    assert isinstance(many, MediaFacts)
    assert many.container == MARK  # the re-probe was stored under the new inode


def test_other_schema_versions_are_ignored(cache_dir: Path, clip: Path) -> None:
    probe(clip, cache=True)
    _mark(cache_dir)
    _sql(cache_dir, "UPDATE facts SET schema=?", _cache.ROW_SCHEMA + 1)
    assert probe(clip, cache=True).container == "mp4"


def test_hit_reports_the_name_it_was_asked_by(
    cache_dir: Path, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe(clip, cache=True)
    monkeypatch.chdir(clip.parent)
    _mark(cache_dir)
    hit = probe("clip.mp4", cache=True)
    assert (hit.container, hit.source) == (MARK, "clip.mp4")


def test_corrupt_cache_file_is_rebuilt(cache_dir: Path, clip: Path) -> None:
    cache_dir.mkdir(parents=True)
    _db(cache_dir).write_bytes(b"this is not an SQLite database at all" * 100)
    facts = probe(clip, cache=True)
    assert facts.container == "mp4"
    assert len(_rows(cache_dir)) == 1


def test_cache_corrupted_while_open_is_not_fatal(cache_dir: Path, clip: Path) -> None:
    probe(clip, cache=True)
    _db(cache_dir).write_bytes(b"garbage" * 4096)
    for suffix in ("-wal", "-shm"):
        Path(f"{_db(cache_dir)}{suffix}").unlink(missing_ok=True)
    assert probe(clip, cache=True).container == "mp4"
    assert probe(clip, cache=True).container == "mp4"


def test_unusable_cache_dir_is_not_fatal(
    tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a file, not a dir"
    blocker.write_text("x")
    monkeypatch.setenv("PREFLIGHT_CACHE_DIR", str(blocker / "cache"))
    try:
        assert probe(clip, cache=True).container == "mp4"
        assert probe(clip, cache=True).container == "mp4"
    finally:
        _cache.close_all()


def test_default_location_is_the_user_cache_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("PREFLIGHT_CACHE_DIR", raising=False)
    assert _cache.cache_dir() == Path(platformdirs.user_cache_dir("preflight"))
    # on Linux the rule is written out (no platformdirs import at start-up): same answers
    for xdg in ("", "   ", "/tmp/xdg-cache", "relative/dir"):
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
        assert _cache.cache_dir() == Path(platformdirs.user_cache_dir("preflight")), xdg


def test_probe_many_with_cache_on_two_threads(cache_dir: Path, media: Media) -> None:
    paths = [media(n) for n in ("ok", "ok_mov", "mp3", "wav", "jpg", "vfr")]
    cold = probe_many(paths, cache=True, workers=2)
    assert len(_rows(cache_dir)) == len(paths)
    warm = probe_many(paths, cache=True, workers=2)
    assert warm == cold
    assert all(isinstance(f, MediaFacts) for f in warm)


def test_probe_many_reads_and_writes_the_cache_in_batches(
    cache_dir: Path, clip: Path, media: Media, tmp_path: Path
) -> None:
    other = media("mp3")
    missing = tmp_path / "missing.mp4"
    first = probe_many([clip, other, missing], cache=True)
    assert isinstance(first[2], InputError)
    assert len(_rows(cache_dir)) == 2  # errors are never cached
    _mark(cache_dir)
    st = clip.stat()
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    again = probe_many([clip, other, missing, other], cache=True)
    assert isinstance(again[0], MediaFacts)
    assert again[0].container == "mp4"  # changed since: re-probed
    assert isinstance(again[1], MediaFacts)
    assert again[1].container == MARK  # unchanged: from the cache
    assert isinstance(again[2], InputError)
    assert str(again[2]) == "no such file"
    assert again[3] == again[1]
    assert probe(clip, cache=True).container == "mp4"  # the re-probe was stored


def test_names_that_are_not_utf8_are_cached(cache_dir: Path, media: Media, tmp_path: Path) -> None:
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9 clip.mp4")
    shutil.copyfile(media("ok"), raw)
    name = os.fsdecode(raw)  # 'caf\udce9 clip.mp4': Python's surrogate escape
    first = probe(name, cache=True)
    second = probe(name, cache=True)
    assert second == first
    assert second.source == name
    assert [row[0] for row in _sql(cache_dir, "SELECT path FROM facts")] == [raw]
    (many,) = probe_many([name], cache=True)
    assert many == first


def test_records_round_trip_and_bad_ones_are_misses(media: Media) -> None:
    """A record gives back equal facts (``extra`` too) under the asking name; a record of
    another layout or a damaged one is a miss, never an error."""
    for name in ("ok", "ok_mov", "rotated", "anamorphic", "mp3", "wav", "jpg", "mkv"):
        facts = probe(media(name))
        back = _cache._from_record(_cache._record(facts), "asked.mp4")
        assert back is not None
        assert back == dataclasses.replace(facts, source="asked.mp4")
        assert back.extra == facts.extra
        assert back.to_dict() == {**facts.to_dict(), "source": "asked.mp4"}
    good = json.loads(_cache._record(probe(media("ok"))))
    for bad in ("", "{}", "[1, 2]", json.dumps([*good, 0]), json.dumps(good[:-1]), "[nul"):
        assert _cache._from_record(bad, "x.mp4") is None, bad
