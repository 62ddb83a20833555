"""The two caches that share the ledger's database file but are not jobs.

- `UploadCache`: which content (sha256) is already at which hosting place, under which URL, until
  when; `preflight.submitting.hosting.host_file` reads it so the same bytes are not uploaded twice
  while their URL stays valid.
- `HashCache`: a file's sha256 keyed by absolute path, size and modification time, so a re-run of
  a large batch does not read every input again to find its job.

They live in the ledger's SQLite file (one file to keep, one to delete) and use its connections
and write transactions, but they are separate from the `Ledger` class: the ledger is the job state
machine, nothing else.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from preflight.model.errors import LedgerError
from preflight.submitting.ledger import file_sha256

if TYPE_CHECKING:
    from preflight.submitting.ledger import Ledger

__all__ = ["HashCache", "UploadCache"]


class UploadCache:
    """Hosted URLs by (content sha256, hosting target), in the ledger's database."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def get(
        self, sha256: str, target: str, *, min_valid: float = 0.0
    ) -> tuple[str, float | None] | None:
        """``(url, expires_at)`` where content ``sha256`` already is at ``target``, when that URL
        stays valid ``min_valid`` seconds more; else None."""
        rows = self.ledger._read(
            "SELECT url, expires_at FROM uploads WHERE sha256=? AND target=?", (sha256, target)
        )
        if not rows:
            return None
        expires = rows[0]["expires_at"]
        if expires is not None and expires <= self.ledger.clock() + min_valid:
            return None
        return str(rows[0]["url"]), expires

    def put(self, sha256: str, target: str, url: str, expires_at: float | None) -> None:
        """Remember ``sha256`` at ``target`` as ``url`` until ``expires_at`` (None: unknown)."""
        with self.ledger._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO uploads (sha256, target, url, expires_at, created_at) "
                "VALUES (?,?,?,?,?)",
                (sha256, target, url, expires_at, self.ledger.clock()),
            )


class HashCache:
    """`file_sha256`, remembered by absolute path, size and modification time."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def sha256(self, path: str | os.PathLike[str]) -> str:
        """The sha256 (hex) of the file's bytes; read again only when its size or mtime changed."""
        absolute = os.path.abspath(path)
        try:
            st = os.stat(absolute)
        except OSError as exc:
            raise LedgerError(f"cannot read {os.fspath(path)!r}: {exc.strerror}") from exc
        rows = self.ledger._read(
            "SELECT sha256 FROM file_hashes WHERE path=? AND size=? AND mtime_ns=?",
            (absolute, st.st_size, st.st_mtime_ns),
        )
        if rows:
            return str(rows[0]["sha256"])
        digest = file_sha256(absolute)
        with self.ledger._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO file_hashes (path, size, mtime_ns, sha256) "
                "VALUES (?,?,?,?)",
                (absolute, st.st_size, st.st_mtime_ns, digest),
            )
        return digest
