"""The probe cache: SQLite, one row per (absolute path, backend), valid while size and mtime hold.

Lives in ``platformdirs.user_cache_dir("preflight")`` (``$PREFLIGHT_CACHE_DIR`` overrides it) as
``probe-v{SCHEMA}.sqlite3``. A row is used only if the file's size and ``st_mtime_ns`` and the
record schema still match; anything else is a miss and is overwritten. The cache is disposable:
a corrupt or unreadable file is deleted and rebuilt, and if even that fails probing simply goes on
without a cache. Nothing about the cache can make a probe fail.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sqlite3
import sys
import threading
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from preflight.model.facts import AudioStream, ImageInfo, MediaFacts, VideoStream

__all__ = ["SCHEMA", "ProbeCache", "cache_dir", "close_all", "open_cache"]

SCHEMA = 1  # bump when MediaFacts or the normalisation changes: old rows are then ignored
_BUSY_TIMEOUT_S = 5.0
_DDL = """
CREATE TABLE IF NOT EXISTS facts (
    path TEXT NOT NULL,
    backend TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
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
                    "SELECT size, mtime_ns, schema, record FROM facts WHERE path=? AND backend=?",
                    (_key(source), backend),
                ).fetchone()
            except sqlite3.Error:
                self._failed()
                return None
        if row is None or (row[0], row[1], row[2]) != (st.st_size, st.st_mtime_ns, SCHEMA):
            return None
        try:
            facts = _from_record(json.loads(row[3]))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return replace(facts, source=source)

    def get_many(
        self, items: list[tuple[str, os.stat_result]], backend: str
    ) -> list[MediaFacts | None]:
        """``get`` for many files in one query (what ``probe_many`` uses)."""
        if not items:
            return []
        wanted: dict[str | bytes, list[int]] = {}
        for i, (source, _) in enumerate(items):
            wanted.setdefault(_key(source), []).append(i)
        found: list[MediaFacts | None] = [None] * len(items)
        with self._lock:
            conn = self._connection()
            if conn is None:
                return found
            try:
                conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (path TEXT PRIMARY KEY)")
                conn.execute("DELETE FROM wanted")
                conn.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(p,) for p in wanted])
                rows = conn.execute(
                    "SELECT f.path, f.size, f.mtime_ns, f.schema, f.record FROM facts f "
                    "JOIN wanted w ON w.path = f.path WHERE f.backend = ?",
                    (backend,),
                ).fetchall()
                conn.execute("DELETE FROM wanted")
                conn.commit()
            except sqlite3.Error:
                self._failed()
                return found
        for path, size, mtime_ns, schema, record in rows:
            for index in wanted[path]:
                source, st = items[index]
                if (size, mtime_ns, schema) != (st.st_size, st.st_mtime_ns, SCHEMA):
                    continue
                try:
                    found[index] = replace(_from_record(json.loads(record)), source=source)
                except (ValueError, TypeError, KeyError, AttributeError):
                    continue
        return found

    def put_many(self, items: list[tuple[str, os.stat_result, MediaFacts]], backend: str) -> None:
        """``put`` for many files in one transaction."""
        rows = [
            (
                _key(source),
                backend,
                st.st_size,
                st.st_mtime_ns,
                SCHEMA,
                json.dumps(asdict(facts), default=str),
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
                    conn.executemany("INSERT OR REPLACE INTO facts VALUES (?, ?, ?, ?, ?, ?)", rows)
            except sqlite3.Error:
                self._failed()

    def put(self, source: str, st: os.stat_result, backend: str, facts: MediaFacts) -> None:
        """Remember ``facts`` for this file (size, mtime) and backend."""
        record = json.dumps(asdict(facts), default=str)
        key = (_key(source), backend, st.st_size, st.st_mtime_ns, SCHEMA, record)
        with self._lock:
            conn = self._connection()
            if conn is None:
                return
            try:
                with conn:
                    conn.execute("INSERT OR REPLACE INTO facts VALUES (?, ?, ?, ?, ?, ?)", key)
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


def _from_record(data: dict[str, Any]) -> MediaFacts:
    video = data.pop("video", None)
    audio = data.pop("audio", None)
    image = data.pop("image", None)
    return MediaFacts(
        **data,
        video=None if video is None else VideoStream(**video),
        audio=None if audio is None else AudioStream(**audio),
        image=None if image is None else ImageInfo(**image),
    )


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
