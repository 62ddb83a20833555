"""The probe cache: SQLite, one row per (absolute path, backend), valid while the file is the same.

Lives in ``platformdirs.user_cache_dir("preflight")`` (``$PREFLIGHT_CACHE_DIR`` overrides it) as
``probe-v{SCHEMA}.sqlite3``. A row is used only if the file's size, ``st_mtime_ns`` and inode (from
the one ``stat`` the probe makes anyway) and the record schema still match; anything else is a
miss and is overwritten. The record is the facts as a compact JSON list (the C decoder reads it),
turned back into ``MediaFacts`` directly, without the probe's checks: a hit costs a few
microseconds.
Never pickle: the cache dir may be shared, and unpickling runs whatever it is given.
``probe_many`` looks a whole batch up in a few queries (`ProbeCache.get_many`).

The cache is disposable: a corrupt or unreadable file is deleted and rebuilt, and if even that
fails probing simply goes on without a cache. Nothing about the cache can make a probe fail.
"""

from __future__ import annotations

import atexit
import binascii
import contextlib
import json
import os
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

from preflight.model.facts import ROW_FIELDS, ROW_LAYOUT, MediaFacts, facts_from_row, facts_row

__all__ = [
    "RECORD_FIELDS",
    "ROW_SCHEMA",
    "SCHEMA",
    "ProbeCache",
    "cache_dir",
    "close_all",
    "open_cache",
]

SCHEMA = 2  # bump when the normalisation changes (a changed field layout counts by itself)
_BUSY_TIMEOUT_S = 5.0
_SELECT = "SELECT path, size, mtime_ns, inode, schema, record FROM facts WHERE backend = ?"
_CHUNK = 500  # paths a lookup query binds (SQLite's oldest builds allow 999 variables)
_DDL = """
CREATE TABLE IF NOT EXISTS facts (
    path TEXT NOT NULL,
    backend TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    schema INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (path, backend)
)
"""


def cache_dir() -> Path:
    """Where the cache lives: ``$PREFLIGHT_CACHE_DIR`` or the platform's user cache dir."""
    env = os.environ.get("PREFLIGHT_CACHE_DIR")
    if env:
        return Path(env)
    if sys.platform.startswith("linux"):
        # platformdirs' own Linux rule, without importing it (and tempfile, shutil, random with
        # it): ~7 ms of every run's start-up, a tenth of `check one.mp4`'s own cost
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = xdg if xdg.strip() and os.path.isabs(xdg) else os.path.expanduser("~/.cache")
        return Path(base, "preflight")
    import platformdirs

    return Path(platformdirs.user_cache_dir("preflight"))


class ProbeCache:
    """A handle on the cache file, shared by threads: one connection, one lock.

    A lookup or a store takes tens of microseconds against milliseconds for a probe, so a lock
    costs nothing measurable and keeps one connection (no per-thread connections to leak).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self.disabled = False

    def _connection(self) -> sqlite3.Connection | None:
        """The open connection (opening, or rebuilding a corrupt file, on first use)."""
        if self._conn is None and not self.disabled:
            for attempt in range(2):
                try:
                    self._conn = self._open()
                    break
                except (sqlite3.Error, OSError):
                    if attempt == 0:
                        self._remove()
            else:
                self.disabled = True
        return self._conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")  # a lost row is only a re-probe
            conn.execute(_DDL)
            conn.execute("SELECT count(*) FROM facts WHERE 0").fetchall()
            conn.commit()
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _remove(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{suffix}")

    def _failed(self) -> None:
        """A query failed on an open connection (the file went bad): rebuild it on next use."""
        self.close()
        self._remove()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def get(self, source: str, st: os.stat_result, backend: str) -> MediaFacts | None:
        """The cached facts for this file as it is now, or None."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return None
            try:
                row = conn.execute(
                    "SELECT size, mtime_ns, inode, schema, record FROM facts "
                    "WHERE path=? AND backend=?",
                    (_key(source), backend),
                ).fetchone()
            except sqlite3.Error:
                self._failed()
                return None
        if row is None or row[:4] != _validity(st):
            return None
        return _from_record(row[4], source)

    def get_many(
        self, items: list[tuple[str, os.stat_result]], backend: str
    ) -> list[MediaFacts | None]:
        """``get`` for many files, a few queries for the lot (what ``probe_many`` uses)."""
        found: list[MediaFacts | None] = [None] * len(items)
        if not items:
            return found
        wanted: dict[str | bytes, list[int]] = {}
        for i, (source, _) in enumerate(items):
            wanted.setdefault(_key(source), []).append(i)
        keys = list(wanted)
        rows: list[tuple[Any, ...]] = []
        with self._lock:
            conn = self._connection()
            if conn is None:
                return found
            try:
                for at in range(0, len(keys), _CHUNK):
                    chunk = keys[at : at + _CHUNK]
                    marks = ", ".join("?" * len(chunk))  # placeholders only: values are bound
                    query = f"{_SELECT} AND path IN ({marks})"
                    rows += conn.execute(query, (backend, *chunk)).fetchall()
            except sqlite3.Error:
                self._failed()
                return found
        for path, size, mtime_ns, inode, schema, record in rows:
            for index in wanted[path]:
                source, st = items[index]
                if (size, mtime_ns, inode, schema) == _validity(st):
                    found[index] = _from_record(record, source)
        return found

    def put_many(self, items: list[tuple[str, os.stat_result, MediaFacts]], backend: str) -> None:
        """``put`` for many files in one transaction."""
        rows = [
            (
                _key(source),
                backend,
                *_validity(st),
                _record(facts),
            )
            for source, st, facts in items
        ]
        if not rows:
            return
        with self._lock:
            conn = self._connection()
            if conn is None:
                return
            try:
                with conn:
                    conn.executemany(
                        "INSERT OR REPLACE INTO facts VALUES (?, ?, ?, ?, ?, ?, ?)", rows
                    )
            except sqlite3.Error:
                self._failed()

    def put(self, source: str, st: os.stat_result, backend: str, facts: MediaFacts) -> None:
        """Remember ``facts`` for this file (size, mtime) and backend."""
        key = (_key(source), backend, *_validity(st), _record(facts))
        with self._lock:
            conn = self._connection()
            if conn is None:
                return
            try:
                with conn:
                    conn.execute("INSERT OR REPLACE INTO facts VALUES (?, ?, ?, ?, ?, ?, ?)", key)
            except sqlite3.Error:
                self._failed()


def _key(source: str) -> str | bytes:
    """The cache key of a local file: its absolute path.

    A name that is not valid UTF-8 (surrogate-escaped by Python) cannot be bound as SQLite text,
    so it is stored as its raw bytes; a given path always gets the same key.
    """
    path = os.path.abspath(source)
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def _validity(st: os.stat_result) -> tuple[int, int, int, int]:
    """What must still hold for a row to be used: size, mtime, inode (a file replaced by a copy
    with the same size and mtime is another file) and the record schema."""
    return (st.st_size, st.st_mtime_ns, st.st_ino, ROW_SCHEMA)


# A record is a JSON list: the facts' row (`facts_row`) without ``source`` (a hit takes the name
# it was asked by); ``extra`` is included (rules read it). The layout's fingerprint is part of
# `ROW_SCHEMA`, so a field added, removed or reordered makes old rows misses by itself.
RECORD_FIELDS = ROW_FIELDS[1:]
_LAYOUT = repr((RECORD_FIELDS, list(ROW_LAYOUT[1])))
ROW_SCHEMA = SCHEMA << 32 | binascii.crc32(_LAYOUT.encode())  # the rows' `schema` column
_ENCODER = json.JSONEncoder(default=str, check_circular=False)


def _record(facts: MediaFacts) -> str:
    return _ENCODER.encode(facts_row(facts)[1:])


def _from_record(record: str, source: str) -> MediaFacts | None:
    """The facts a record holds, named ``source`` (the name this run asked by); None for a
    record this code cannot read (a miss: the file is probed again)."""
    try:
        values = json.loads(record)
        return facts_from_row([source, *values])
    except (ValueError, TypeError, IndexError, KeyError, AttributeError):
        return None


_caches: dict[Path, ProbeCache] = {}
_caches_lock = threading.Lock()


@atexit.register
def close_all() -> None:
    """Close every cache connection (at exit, and for tests that swap cache dirs)."""
    with _caches_lock:
        for cache in _caches.values():
            cache.close()
        _caches.clear()


def open_cache() -> ProbeCache | None:
    """The process's cache handle for the current cache dir (None if it is disabled)."""
    path = cache_dir() / f"probe-v{SCHEMA}.sqlite3"
    with _caches_lock:
        cache = _caches.get(path)
        if cache is None:
            cache = _caches[path] = ProbeCache(path)
    return None if cache.disabled else cache
