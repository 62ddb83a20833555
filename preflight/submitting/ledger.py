"""The job ledger: one SQLite row per job, so nothing is paid for twice and nothing is lost.

A job is keyed by :func:`job_key`: the sha256 of the provider, the endpoint, the canonical request
parameters (sorted JSON) and the content hashes of the inputs (sha256 of a file's bytes; for a URL
the URL itself plus its size/ETag when known). Re-running the same command finds the same row and
resumes it; ``new=True`` starts a fresh row (a new *generation*) for the same key.

The row is written before anything is sent and updated after every step: ``checked``, ``fixed``
(the fixed file), ``hosted`` (the URLs), ``creating`` (written *before* the create call, with a
client-generated ``external_task_id``), ``submitted`` (the task id), ``processing``,
``succeeded`` (the result URL), ``done`` (the downloaded file). A row left in ``creating`` with no
task id means a process died around the create call: it is reconciled through the client's lookup
before any new create.

Processes sharing a ledger coordinate through a **lease** on each row: ``BEGIN IMMEDIATE`` makes
"find or insert the row, then take the lease" one atomic step; the holder renews the lease from a
heartbeat thread; a second process waits for the job (or adopts it once the lease expires, or at
once when the holder is a dead process on this host). Only the lease holder may write the row.

The database runs in WAL mode with a busy timeout, one connection per thread.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preflight.model.errors import LedgerError

__all__ = [
    "LEDGER_ENV",
    "TERMINAL",
    "JobRecord",
    "JobStatus",
    "Lease",
    "Ledger",
    "default_ledger_path",
    "file_sha256",
    "job_key",
]

LEDGER_ENV = "PREFLIGHT_LEDGER"
SCHEMA_VERSION = 1
DEFAULT_LEASE_SECONDS = 30.0
BUSY_TIMEOUT_MS = 30_000
WAIT_POLL_SECONDS = 0.2
HASH_CHUNK = 1 << 20


class JobStatus(enum.StrEnum):
    """Where a job stands. ``done``, ``failed`` and ``rejected`` are final."""

    PENDING = "pending"  # row written, nothing done yet
    CHECKED = "checked"  # inputs passed the profile
    REJECTED = "rejected"  # inputs failed the profile and were not (or could not be) fixed
    FIXED = "fixed"  # failing inputs were fixed into new files
    HOSTED = "hosted"  # local media has URLs (or inline data)
    CREATING = "creating"  # the create call is being sent; no task id yet
    SUBMITTED = "submitted"  # the provider answered with a task id
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"  # the task succeeded; the result is not downloaded yet
    DONE = "done"  # the result is at ``result_path``
    FAILED = "failed"  # the provider refused the create or the task failed


TERMINAL = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.REJECTED})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id           TEXT PRIMARY KEY,
    job_key          TEXT NOT NULL,
    generation       INTEGER NOT NULL,
    name             TEXT NOT NULL,
    provider         TEXT NOT NULL,
    endpoint         TEXT NOT NULL,
    params           TEXT NOT NULL,
    inputs           TEXT NOT NULL,
    options          TEXT NOT NULL,
    status           TEXT NOT NULL,
    external_task_id TEXT NOT NULL,
    task_id          TEXT,
    fixed            TEXT NOT NULL DEFAULT '{}',
    urls             TEXT NOT NULL DEFAULT '{}',
    result_url       TEXT,
    out_path         TEXT,
    result_path      TEXT,
    error            TEXT,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    lease_token      TEXT,
    lease_pid        INTEGER,
    lease_host       TEXT,
    lease_expires    REAL,
    UNIQUE (job_key, generation)
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
CREATE INDEX IF NOT EXISTS jobs_task ON jobs (provider, task_id);
CREATE TABLE IF NOT EXISTS uploads (
    sha256     TEXT NOT NULL,
    target     TEXT NOT NULL,
    url        TEXT NOT NULL,
    expires_at REAL,
    created_at REAL NOT NULL,
    PRIMARY KEY (sha256, target)
);
CREATE TABLE IF NOT EXISTS file_hashes (
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256   TEXT NOT NULL
);
"""

# columns a caller may set through Ledger.update (JSON ones are encoded on the way in)
_JSON_COLUMNS = frozenset({"fixed", "urls", "options"})
_UPDATABLE = frozenset(
    {
        "status",
        "task_id",
        "fixed",
        "urls",
        "result_url",
        "out_path",
        "result_path",
        "error",
        "options",
        "external_task_id",
    }
)


def default_ledger_path() -> Path:
    """``$PREFLIGHT_LEDGER``, else ``ledger.sqlite3`` in the user's data directory for preflight."""
    env = os.environ.get(LEDGER_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("preflight")) / "ledger.sqlite3"


def canonical_json(value: Any) -> str:
    """Sorted, compact JSON: equal values give equal text, so equal hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def job_key(
    provider: str, endpoint: str, params: Mapping[str, Any], inputs: Mapping[str, Mapping[str, Any]]
) -> str:
    """The sha256 (hex) naming one job: provider, endpoint, parameters and input fingerprints.

    ``params`` are the request fields other than media (``None`` values are dropped, so leaving a
    field out and passing ``None`` are the same job). ``inputs`` maps a role (``video``, ``audio``,
    ``image``) to its fingerprint: ``{"sha256": ...}`` for a file, ``{"url": ..., "etag": ...,
    "size": ...}`` for a URL.
    """
    material = {
        "provider": provider,
        "endpoint": endpoint,
        "params": {k: v for k, v in params.items() if v is not None},
        "inputs": {role: dict(fp) for role, fp in inputs.items()},
    }
    return hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(HASH_CHUNK), b""):
                digest.update(chunk)
    except OSError as exc:
        raise LedgerError(f"cannot read {os.fspath(path)!r} to hash it: {exc.strerror}") from exc
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One row of the ledger, as read at one moment."""

    job_id: str
    job_key: str
    generation: int
    name: str
    provider: str
    endpoint: str
    params: Mapping[str, Any]
    inputs: Mapping[str, Any]
    options: Mapping[str, Any]
    status: JobStatus
    external_task_id: str
    task_id: str | None = None
    fixed: Mapping[str, str] = field(default_factory=dict)
    urls: Mapping[str, str] = field(default_factory=dict)
    result_url: str | None = None
    out_path: str | None = None
    result_path: str | None = None
    error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    lease_pid: int | None = None
    lease_host: str | None = None
    lease_expires: float | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``preflight jobs --format json`` prints)."""
        return {
            "job_id": self.job_id,
            "job_key": self.job_key,
            "generation": self.generation,
            "name": self.name,
            "provider": self.provider,
            "endpoint": self.endpoint,
            "params": dict(self.params),
            "inputs": dict(self.inputs),
            "options": dict(self.options),
            "status": self.status.value,
            "external_task_id": self.external_task_id,
            "task_id": self.task_id,
            "fixed": dict(self.fixed),
            "urls": {k: _short_url(v) for k, v in self.urls.items()},
            "result_url": self.result_url,
            "out_path": self.out_path,
            "result_path": self.result_path,
            "error": self.error,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _short_url(url: str) -> str:
    """A URL without its query string: presigned signatures stay out of listings."""
    return url.split("?", 1)[0] + ("?…" if "?" in url else "")


def _record(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        job_id=row["job_id"],
        job_key=row["job_key"],
        generation=row["generation"],
        name=row["name"],
        provider=row["provider"],
        endpoint=row["endpoint"],
        params=json.loads(row["params"]),
        inputs=json.loads(row["inputs"]),
        options=json.loads(row["options"]),
        status=JobStatus(row["status"]),
        external_task_id=row["external_task_id"],
        task_id=row["task_id"],
        fixed=json.loads(row["fixed"]),
        urls=json.loads(row["urls"]),
        result_url=row["result_url"],
        out_path=row["out_path"],
        result_path=row["result_path"],
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        lease_pid=row["lease_pid"],
        lease_host=row["lease_host"],
        lease_expires=row["lease_expires"],
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Lease:
    """This process's hold on one job row, renewed by a heartbeat thread until released.

    ``lost`` turns true when a renewal finds another owner (this process stalled past the expiry
    and someone adopted the job): the holder must then stop writing and never create a task.
    """

    def __init__(self, ledger: Ledger, job_id: str, token: str) -> None:
        self.ledger = ledger
        self.job_id = job_id
        self.token = token
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"preflight-lease-{job_id}", daemon=True
        )
        self._thread.start()

    def _beat(self) -> None:
        interval = max(self.ledger.lease_seconds / 3.0, 0.05)
        try:
            while not self._stop.wait(interval):
                try:
                    if not self.ledger._renew(self.job_id, self.token):
                        self.lost = True
                        return
                except LedgerError:
                    continue  # a busy database: try again on the next beat
        finally:
            self.ledger.close()  # this thread's connection

    def release(self) -> None:
        """Stop the heartbeat and give the row back (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        with contextlib.suppress(LedgerError):
            self.ledger._release(self.job_id, self.token)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Ledger:
    """The SQLite job ledger at ``path`` (created with its parent directory when missing)."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path) if path is not None else default_ledger_path()
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._local = threading.local()
        self._all: set[sqlite3.Connection] = set()
        self._all_lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(
                f"cannot create the ledger directory {self.path.parent}: {exc}"
            ) from exc
        self._init_schema()

    # --- connections -----------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            try:
                # each connection is used by its own thread only; check_same_thread=False lets
                # close_all() close them from the thread that owns the ledger
                conn = sqlite3.connect(
                    self.path,
                    timeout=BUSY_TIMEOUT_MS / 1000,
                    isolation_level=None,
                    check_same_thread=False,
                )
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot open the ledger {self.path}: {exc}") from exc
            try:
                conn.row_factory = sqlite3.Row
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                _while_locked(lambda: conn.execute("PRAGMA journal_mode = WAL"))
                conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                conn.close()
                raise LedgerError(f"{self.path} is not a usable ledger: {exc}") from exc
            self._local.conn = conn
            self._local.pid = os.getpid()
            with self._all_lock:
                self._all.add(conn)
        return conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction taken with ``BEGIN IMMEDIATE`` (the write lock up front)."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise LedgerError(f"the ledger {self.path} is not writable: {exc}") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot write the ledger {self.path}: {exc}") from exc

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read the ledger {self.path}: {exc}") from exc

    def _init_schema(self) -> None:
        try:
            _while_locked(self._create_schema)
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path} is not a usable ledger: {exc}") from exc

    def _create_schema(self) -> None:
        conn = self._conn()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"the ledger {self.path} was written by a newer preflight "
                f"(schema {version}, this one knows {SCHEMA_VERSION})"
            )
        if version < SCHEMA_VERSION:
            with self._tx() as db:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close this thread's connection (a later call opens a new one)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            with self._all_lock:
                self._all.discard(conn)
            conn.close()

    def close_all(self) -> None:
        """Close every connection this ledger opened, in any thread (when done with it)."""
        with self._all_lock:
            conns, self._all = self._all, set()
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_all()

    # --- jobs ------------------------------------------------------------------------------

    def _claimable(self, row: sqlite3.Row, now: float) -> bool:
        if row["lease_token"] is None or row["lease_expires"] is None:
            return True
        if row["lease_expires"] <= now:
            return True
        # the holder died on this host: no need to wait for the lease to run out
        return bool(row["lease_host"] == self.host and not _pid_alive(row["lease_pid"]))

    def _take(self, db: sqlite3.Connection, job_id: str, now: float) -> Lease:
        token = uuid.uuid4().hex
        db.execute(
            "UPDATE jobs SET lease_token=?, lease_pid=?, lease_host=?, lease_expires=? "
            "WHERE job_id=?",
            (token, self.pid, self.host, now + self.lease_seconds, job_id),
        )
        return Lease(self, job_id, token)

    def open_job(
        self,
        key: str,
        *,
        name: str,
        provider: str,
        endpoint: str,
        params: Mapping[str, Any],
        inputs: Mapping[str, Any],
        options: Mapping[str, Any] | None = None,
        out_path: str | None = None,
        external_task_id: str | None = None,
        new: bool = False,
    ) -> tuple[JobRecord, Lease | None]:
        """Find the latest row for ``key`` (or insert one) and try to take its lease, atomically.

        Returns the row and the lease, or ``None`` for the lease when another live process holds
        it. ``new`` inserts a fresh generation even when a row exists.
        """
        now = self.clock()
        with self._tx() as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE job_key=? ORDER BY generation DESC LIMIT 1", (key,)
            ).fetchone()
            if row is None or new:
                generation = 0 if row is None else row["generation"] + 1
                job_id = key[:12] if generation == 0 else f"{key[:12]}.{generation}"
                db.execute(
                    "INSERT INTO jobs (job_id, job_key, generation, name, provider, endpoint, "
                    "params, inputs, options, status, external_task_id, out_path, created_at, "
                    "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        job_id,
                        key,
                        generation,
                        name,
                        provider,
                        endpoint,
                        canonical_json(params),
                        canonical_json(inputs),
                        canonical_json(dict(options or {})),
                        JobStatus.PENDING.value,
                        external_task_id or f"preflight-{job_id}-{uuid.uuid4().hex[:8]}",
                        out_path,
                        now,
                        now,
                    ),
                )
                lease: Lease | None = self._take(db, job_id, now)
            elif self._claimable(row, now):
                job_id = row["job_id"]
                lease = self._take(db, job_id, now)
            else:
                job_id = row["job_id"]
                lease = None
            record = _record(db.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,)).fetchone())
        return record, lease

    def claim(self, job_id: str) -> tuple[JobRecord, Lease | None]:
        """Take the lease of an existing row when free (``preflight resume``)."""
        now = self.clock()
        with self._tx() as db:
            row = db.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,)).fetchone()
            if row is None:
                raise LedgerError(f"no job {job_id!r} in the ledger {self.path}")
            lease = self._take(db, job_id, now) if self._claimable(row, now) else None
            record = _record(db.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,)).fetchone())
        return record, lease

    def wait_claim(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        on_wait: Callable[[JobRecord], None] | None = None,
        poll: float = WAIT_POLL_SECONDS,
    ) -> tuple[JobRecord, Lease | None]:
        """Wait until the job is finished by its holder (lease ``None``) or can be adopted.

        Returns ``(row, None)`` when another process finished the job, ``(row, lease)`` when this
        process took it over. Raises LedgerError after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        notified = False
        while True:
            record, lease = self.claim(job_id)
            if lease is not None:
                return record, lease
            if record.finished:
                return record, None
            if on_wait is not None and not notified:
                on_wait(record)
                notified = True
            if deadline is not None and time.monotonic() >= deadline:
                raise LedgerError(
                    f"job {job_id} is held by process {record.lease_pid} on {record.lease_host}; "
                    "gave up waiting for it"
                )
            time.sleep(poll)

    def _renew(self, job_id: str, token: str) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET lease_expires=? WHERE job_id=? AND lease_token=?",
                (self.clock() + self.lease_seconds, job_id, token),
            )
            return cur.rowcount == 1

    def _release(self, job_id: str, token: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET lease_token=NULL, lease_pid=NULL, lease_host=NULL, "
                "lease_expires=NULL WHERE job_id=? AND lease_token=?",
                (job_id, token),
            )

    def update(self, lease: Lease, **fields: Any) -> JobRecord:
        """Write fields of the leased row; raises LedgerError when the lease was lost."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise LedgerError(f"not a ledger column: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for column, value in fields.items():
            if column in _JSON_COLUMNS:
                value = canonical_json(dict(value))
            elif isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, os.PathLike):
                value = os.fspath(value)
            values[column] = value
        values["updated_at"] = self.clock()
        assignments = ", ".join(f"{column}=?" for column in values)
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE jobs SET {assignments} WHERE job_id=? AND lease_token=?",  # noqa: S608 - column names are from _UPDATABLE
                (*values.values(), lease.job_id, lease.token),
            )
            if cur.rowcount != 1:
                lease.lost = True
                raise LedgerError(
                    f"job {lease.job_id} was taken over by another process; stopped this one"
                )
            row = db.execute("SELECT * FROM jobs WHERE job_id=?", (lease.job_id,)).fetchone()
        return _record(row)

    def get(self, job_id: str) -> JobRecord:
        """A row by job id, or by a unique prefix of it. Raises LedgerError when not found."""
        rows = self._read(
            "SELECT * FROM jobs WHERE job_id=? OR job_id LIKE ? ESCAPE '\\' ORDER BY job_id",
            (job_id, _like_prefix(job_id)),
        )
        exact = [r for r in rows if r["job_id"] == job_id]
        if exact:
            return _record(exact[0])
        if not rows:
            raise LedgerError(f"no job {job_id!r} in the ledger {self.path}")
        if len(rows) > 1:
            raise LedgerError(f"{job_id!r} matches {len(rows)} jobs; give more of the id")
        return _record(rows[0])

    def latest(self, key: str) -> JobRecord | None:
        rows = self._read(
            "SELECT * FROM jobs WHERE job_key=? ORDER BY generation DESC LIMIT 1", (key,)
        )
        return _record(rows[0]) if rows else None

    def jobs(self, statuses: Sequence[JobStatus | str] = ()) -> list[JobRecord]:
        """Every row (oldest first), or only those whose status is in ``statuses``."""
        if statuses:
            wanted = [JobStatus(s).value for s in statuses]
            marks = ",".join("?" * len(wanted))
            rows = self._read(
                f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY created_at, job_id",  # noqa: S608 - placeholders only
                wanted,
            )
        else:
            rows = self._read("SELECT * FROM jobs ORDER BY created_at, job_id")
        return [_record(r) for r in rows]

    def unfinished(self) -> list[JobRecord]:
        return self.jobs([s for s in JobStatus if s not in TERMINAL])

    # --- hosting cache -----------------------------------------------------------------------

    def cached_upload(
        self, sha256: str, target: str, *, min_valid: float = 0.0
    ) -> tuple[str, float | None] | None:
        """``(url, expires_at)`` where content ``sha256`` already is at ``target``, when that URL
        stays valid ``min_valid`` seconds more; else None."""
        rows = self._read(
            "SELECT url, expires_at FROM uploads WHERE sha256=? AND target=?", (sha256, target)
        )
        if not rows:
            return None
        expires = rows[0]["expires_at"]
        if expires is not None and expires <= self.clock() + min_valid:
            return None
        return str(rows[0]["url"]), expires

    def record_upload(self, sha256: str, target: str, url: str, expires_at: float | None) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO uploads (sha256, target, url, expires_at, created_at) "
                "VALUES (?,?,?,?,?)",
                (sha256, target, url, expires_at, self.clock()),
            )

    # --- file hashes -----------------------------------------------------------------------

    def file_sha256(self, path: str | os.PathLike[str]) -> str:
        """:func:`file_sha256`, cached by absolute path, size and modification time."""
        absolute = os.path.abspath(path)
        try:
            st = os.stat(absolute)
        except OSError as exc:
            raise LedgerError(f"cannot read {os.fspath(path)!r}: {exc.strerror}") from exc
        rows = self._read(
            "SELECT sha256 FROM file_hashes WHERE path=? AND size=? AND mtime_ns=?",
            (absolute, st.st_size, st.st_mtime_ns),
        )
        if rows:
            return str(rows[0]["sha256"])
        digest = file_sha256(absolute)
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO file_hashes (path, size, mtime_ns, sha256) "
                "VALUES (?,?,?,?)",
                (absolute, st.st_size, st.st_mtime_ns, digest),
            )
        return digest


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _while_locked(action: Callable[[], object], *, budget: float = BUSY_TIMEOUT_MS / 1000) -> None:
    """Run ``action``, retrying while SQLite answers "database is locked".

    The busy timeout covers ordinary lock waits, but SQLite returns SQLITE_BUSY at once in a few
    cases, such as a second process opening the file while the first switches it to WAL. Two
    `preflight submit` processes started together hit exactly that, so opening retries with a
    growing pause, within the same budget as the busy timeout.
    """
    deadline = time.monotonic() + budget
    pause = 0.01
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            locked = "locked" in str(exc) or "busy" in str(exc)
            if not locked or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
