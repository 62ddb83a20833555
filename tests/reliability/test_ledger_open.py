"""Attack 3: a truncated or foreign ledger must be refused, never taken for a new, empty one.

Before: a zero-byte ledger opened as a fresh database, so re-running a `done` job paid for a
second task. Now the ledger names itself (application_id), is checked on open, and anything else
is refused with how to start a new one.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.model.errors import LedgerError
from preflight.sandbox import Sandbox, SandboxConfig
from preflight.submitting.ledger import APPLICATION_ID, JobStatus, Ledger

Media = Callable[[str], Path]


def _submit_args(video: Path, out: Path, bucket: str) -> list[str]:
    return ["submit", "--no-face", str(video), "--text", "hi", "--voice-id", "genshin_klee2",
            "--upload-to", f"s3://{bucket}", "-o", str(out)]  # fmt: skip


def test_a_truncated_ledger_does_not_pay_for_a_done_job_again(
    media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(media("ok").read_bytes())
    ledger = tmp_path / "ledger.sqlite3"
    with Sandbox(SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)) as sandbox:
        env = {**sandbox.environment(), "PREFLIGHT_LEDGER": str(ledger)}
        args = _submit_args(video, tmp_path / "out.mp4", s3_bucket)
        first = CliRunner().invoke(main, args, env=env)
        assert first.exit_code == 0, first.output
        assert len(sandbox.tasks()) == 1
        ledger.write_bytes(b"")  # a crash, a bad copy, `: > ledger`
        for leftover in tmp_path.glob("ledger.sqlite3-*"):
            leftover.unlink()
        again = CliRunner().invoke(main, args, env=env)
        assert again.exit_code == 1, again.output
        assert "empty file" in again.output
        assert "start a new" in again.output
        assert "Traceback" not in again.output
        assert len(sandbox.tasks()) == 1  # nothing paid twice
    assert ledger.stat().st_size == 0  # and the evidence is left as it was


def test_a_foreign_sqlite_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE notes (body TEXT)")
    raw.execute("INSERT INTO notes VALUES ('mine')")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    with pytest.raises(LedgerError, match="not a preflight ledger") as caught:
        Ledger(path)
    assert "--ledger" in str(caught.value)
    assert path.read_bytes() == before
    tables = sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("notes",)]


def test_another_application_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA application_id = 1234")
    raw.execute("CREATE TABLE jobs (x)")
    raw.commit()
    raw.close()
    with pytest.raises(LedgerError, match="not a preflight ledger"):
        Ledger(path)


def test_the_cli_refuses_a_zero_byte_ledger_with_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"")
    result = CliRunner().invoke(main, ["jobs", "--ledger", str(path)])
    assert result.exit_code == 1
    assert "empty file" in result.output
    assert f"mv {path} {path}.broken" in result.output
    assert path.read_bytes() == b""


def test_a_damaged_ledger_fails_the_check_on_open(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path) as ledger:
        ledger.close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA journal_mode = DELETE")
    raw.execute("CREATE TABLE filler (x)")
    raw.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,)] * 200)
    raw.commit()
    page_size = raw.execute("PRAGMA page_size").fetchone()[0]
    raw.close()
    data = bytearray(path.read_bytes())
    last_page = len(data) - page_size
    data[last_page : last_page + 8] = b"\xff" * 8  # a b-tree page header overwritten
    path.write_bytes(bytes(data))
    with pytest.raises(LedgerError, match=r"damaged|not a usable"):
        Ledger(path)


def test_a_new_ledger_names_itself_and_commits_durably(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ledger.sqlite3"
    with Ledger(path) as ledger:
        conn = ledger._conn()
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".new")] == []


def test_a_ledger_from_before_application_id_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with Ledger(path) as ledger:
        record, lease = ledger.open_job(
            "k" * 64, name="a", provider="kling", endpoint="lip-sync", params={}, inputs={}
        )
        assert lease is not None
        ledger.update(lease, status=JobStatus.DONE)
        lease.release()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA application_id = 0")
    raw.commit()
    raw.close()
    with Ledger(path) as ledger:
        assert ledger.get(record.job_id).status is JobStatus.DONE
        assert ledger._conn().execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_processes_creating_one_ledger_at_once_all_open_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def open_it() -> None:
        start.wait()
        try:
            Ledger(path).close_all()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Ledger(path).jobs() == []
