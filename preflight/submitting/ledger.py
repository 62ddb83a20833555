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
before any new create. Every status change is checked against the state table of
`preflight.submitting.states` (an illegal move raises `IllegalTransitionError`); ``blocked`` and
``cancelled`` are described there. The upload and file-hash caches share this file but live in
`preflight.submitting.caches`.

Processes sharing a ledger coordinate through a **lease** on each row: ``BEGIN IMMEDIATE`` makes
"find or insert the row, then take the lease" one atomic step; the holder renews the lease from a
heartbeat thread; a second process waits for the job (or adopts it once the lease expires, or at
once when the holder is a dead process on this host). Only the lease holder may write the row.

The database runs in WAL mode with ``synchronous=FULL`` (every commit is on disk before the
next step, so the ``creating`` row is durable before a paid create is sent), a busy timeout, and
one connection per thread.

A ledger identifies itself: ``PRAGMA application_id`` is :data:`APPLICATION_ID` and
``user_version`` the schema. A new ledger is built in a temp file and linked into place whole, so
an existing file is always a complete ledger; an empty file, a foreign SQLite database or any
other file is refused on open (never taken for a new, empty ledger: that would forget which
jobs were paid for), and ``PRAGMA quick_check`` runs on every open.
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
from preflight.submitting.states import TERMINAL, JobStatus, check_transition

__all__ = [
    "APPLICATION_ID",
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
SCHEMA_VERSION = 2
LEGACY_VERSION = 1  # ledgers from before `application_id` were written at this version
APPLICATION_ID = 0x50464C54  # "PFLT": `PRAGMA application_id` of every preflight ledger
DEFAULT_LEASE_SECONDS = 30.0
BUSY_TIMEOUT_MS = 30_000
WAIT_POLL_SECONDS = 0.2
HASH_CHUNK = 1 << 20
# a task may exist at the provider: removing the row would forget a paid task
IN_FLIGHT = frozenset(
    {JobStatus.CREATING, JobStatus.SUBMITTED, JobStatus.PROCESSING, JobStatus.SUCCEEDED}
)


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
    estimate         TEXT,
    billed           TEXT,
    result_expires   REAL,
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

# how an older ledger becomes the current one: the statements taking version N-1 to N. Rows are
# kept; new columns start empty (NULL) in them.
_MIGRATIONS: Mapping[int, tuple[str, ...]] = {
    # 2: what a job was estimated to cost, what it billed, when its result link expires
    2: (
        "ALTER TABLE jobs ADD COLUMN estimate TEXT",
        "ALTER TABLE jobs ADD COLUMN billed TEXT",
        "ALTER TABLE jobs ADD COLUMN result_expires REAL",
    ),
}

# columns a caller may set through Ledger.update (JSON ones are encoded on the way in)
_JSON_COLUMNS = frozenset({"fixed", "urls", "options", "estimate", "billed"})
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
        "estimate",
        "billed",
        "result_expires",
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
    # `preflight.model.pricing.Estimate.to_dict()` of the job, when one was made
    estimate: Mapping[str, Any] | None = None
    # what the provider reported it billed: {"amount": 1.0, "unit": "units", "source": ...}
    billed: Mapping[str, Any] | None = None
    result_expires: float | None = None  # epoch seconds when the provider deletes the result

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
            "estimate": None if self.estimate is None else dict(self.estimate),
            "billed": None if self.billed is None else dict(self.billed),
            "result_expires": self.result_expires,
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
        estimate=_json_or_none(row["estimate"]),
        billed=_json_or_none(row["billed"]),
        result_expires=row["result_expires"],
    )


def _json_or_none(text: str | None) -> Mapping[str, Any] | None:
    return None if text is None else json.loads(text)


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
                # FULL: a commit is fsynced before it returns, so the row written before a paid
                # create survives a power cut (NORMAL may lose the last commits in WAL mode)
                conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.Error as exc:
                conn.close()
                raise LedgerError(self._refusal(f"is not a usable ledger ({exc})")) from exc
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
        self._ensure_file()
        try:
            _while_locked(self._create_schema)
        except sqlite3.DatabaseError as exc:
            raise LedgerError(self._refusal(f"is not a usable ledger ({exc})")) from exc

    def _refusal(self, what: str) -> str:
        return (
            f"the ledger {self.path} {what}. It was not opened, so nothing is paid for twice. "
            f"If it is yours, restore it from a backup; to start a new, empty ledger, move it "
            f"away (mv {self.path} {self.path}.broken) or choose another with --ledger or "
            f"${LEDGER_ENV}"
        )

    def _ensure_file(self) -> None:
        """Create a new ledger whole (temp file, then a hard link), or refuse an empty file.

        SQLite takes a zero-byte file for a new database; a truncated ledger must not become
        one, so only a file this function linked into place is ever initialised.
        """
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = None
        except OSError as exc:
            raise LedgerError(f"cannot open the ledger {self.path}: {exc}") from exc
        if size == 0:
            raise LedgerError(self._refusal("is an empty file (0 bytes), not a preflight ledger"))
        if size is not None:
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.new")
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("BEGIN IMMEDIATE")
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            finally:
                conn.close()
            _place(tmp, self.path)
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"cannot create the ledger {self.path}: {exc}") from exc
        finally:
            for leftover in (tmp, *(tmp.with_name(tmp.name + x) for x in ("-wal", "-shm"))):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def _identify(self) -> tuple[int, bool]:
        """The schema version, and whether this is a ledger from before ``application_id``.

        Read on a plain connection that changes nothing (not even the journal mode), so a file
        that is refused is left exactly as it was.
        """
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            # before application_id (schema 1), or a copy that lost it: a jobs table and a
            # version this preflight knows
            legacy = (
                app_id == 0 and LEGACY_VERSION <= version <= SCHEMA_VERSION and "jobs" in tables
            )
            if app_id != APPLICATION_ID and not legacy:
                detail = f"application_id {app_id:#x}" if app_id else "another SQLite database"
                raise LedgerError(self._refusal(f"is not a preflight ledger ({detail})"))
            problems = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise LedgerError(self._refusal(f"is damaged ({'; '.join(problems[:3])})"))
        finally:
            conn.close()
        return version, legacy

    def _create_schema(self) -> None:
        version, legacy = self._identify()
        self._conn()  # this thread's connection, in WAL mode, synchronous=FULL
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"the ledger {self.path} was written by a newer preflight "
                f"(schema {version}, this one knows {SCHEMA_VERSION})"
            )
        if version < SCHEMA_VERSION or legacy:
            with self._tx() as db:
                _migrate(db)
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
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
        estimate: Mapping[str, Any] | None = None,
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
                    "updated_at, estimate) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                        None if estimate is None else canonical_json(dict(estimate)),
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
                value = None if value is None else canonical_json(dict(value))
            elif isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, os.PathLike):
                value = os.fspath(value)
            values[column] = value
        values["updated_at"] = self.clock()
        assignments = ", ".join(f"{column}=?" for column in values)
        with self._tx() as db:
            if "status" in fields:
                self._check_move(db, lease, JobStatus(values["status"]))
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

    def _check_move(self, db: sqlite3.Connection, lease: Lease, new: JobStatus) -> None:
        """The one place a status change is judged against the state table (`states`)."""
        row = db.execute(
            "SELECT status FROM jobs WHERE job_id=? AND lease_token=?", (lease.job_id, lease.token)
        ).fetchone()
        if row is not None:  # a lost lease is reported by the UPDATE that follows
            check_transition(JobStatus(row["status"]), new)

    def remove(self, job_id: str, *, force: bool = False) -> JobRecord:
        """Delete a job's row (``preflight jobs rm``); returns the row as it was.

        Refuses while another live process holds the job, and (unless ``force``) while a task may
        be running at the provider: forgetting it would leave a paid task nobody collects.
        """
        record = self.get(job_id)
        now = self.clock()
        with self._tx() as db:
            row = db.execute("SELECT * FROM jobs WHERE job_id=?", (record.job_id,)).fetchone()
            if row is None:
                raise LedgerError(f"no job {job_id!r} in the ledger {self.path}")
            current = _record(row)
            if not self._claimable(row, now):
                raise LedgerError(
                    f"job {current.job_id} is being run by process {current.lease_pid} on "
                    f"{current.lease_host}; stop it first"
                )
            if current.status in IN_FLIGHT and not force:
                raise LedgerError(
                    f"job {current.job_id} is {current.status.value}: a task may be running at "
                    f"{current.provider}. Cancel it first (`preflight jobs cancel "
                    f"{current.job_id}`), or remove it anyway with --force"
                )
            db.execute("DELETE FROM jobs WHERE job_id=?", (current.job_id,))
        return current

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


def _migrate(db: sqlite3.Connection) -> None:
    """Bring an existing ledger's tables to `SCHEMA_VERSION`, inside the caller's transaction.

    The version is read again here, under the write lock, so two processes opening an old ledger
    at once migrate it once."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "jobs" not in tables:
        return  # nothing to migrate: the schema script creates the tables whole
    columns = {r[1] for r in db.execute("PRAGMA table_info(jobs)")}
    for target in range(max(version, LEGACY_VERSION) + 1, SCHEMA_VERSION + 1):
        for statement in _MIGRATIONS[target]:
            column = statement.split("ADD COLUMN ", 1)[-1].split()[0]
            if column not in columns:
                db.execute(statement)


def _place(tmp: Path, path: Path) -> None:
    """Put the finished file ``tmp`` at ``path`` unless something is there already (then keep it).

    A hard link does it atomically; where the file system has none, an exclusive create and a
    copy (a racing opener may then briefly see an incomplete file and refuse it, never reuse it).
    """
    try:
        os.link(tmp, path)
    except FileExistsError:  # another process made it first: use that one
        return
    except OSError:
        try:
            with open(path, "xb") as out:
                out.write(tmp.read_bytes())
                out.flush()
                os.fsync(out.fileno())
        except FileExistsError:
            return


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
