"""An existing ledger of an older schema opens, keeps every row, and gains the new columns."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from preflight.submitting.ledger import APPLICATION_ID, SCHEMA_VERSION, JobStatus, Ledger

# the jobs table exactly as schema 1 wrote it (before estimate, billed, result_expires)
V1_JOBS = """
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY, job_key TEXT NOT NULL, generation INTEGER NOT NULL,
    name TEXT NOT NULL, provider TEXT NOT NULL, endpoint TEXT NOT NULL, params TEXT NOT NULL,
    inputs TEXT NOT NULL, options TEXT NOT NULL, status TEXT NOT NULL,
    external_task_id TEXT NOT NULL, task_id TEXT, fixed TEXT NOT NULL DEFAULT '{}',
    urls TEXT NOT NULL DEFAULT '{}', result_url TEXT, out_path TEXT, result_path TEXT,
    error TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL, lease_token TEXT,
    lease_pid INTEGER, lease_host TEXT, lease_expires REAL, UNIQUE (job_key, generation)
);
CREATE TABLE uploads (sha256 TEXT NOT NULL, target TEXT NOT NULL, url TEXT NOT NULL,
    expires_at REAL, created_at REAL NOT NULL, PRIMARY KEY (sha256, target));
CREATE TABLE file_hashes (path TEXT PRIMARY KEY, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL);
"""


def v1_ledger(path: Path, *, application_id: int = APPLICATION_ID) -> None:
    raw = sqlite3.connect(path)
    raw.executescript(V1_JOBS)
    rows = [
        ("aaa111", "a" * 64, "done", "123456789", "http://r/1.mp4", "/tmp/1.mp4"),
        ("bbb222", "b" * 64, "submitted", "987654321", None, None),
    ]
    for job_id, key, status, task, url, path_ in rows:
        raw.execute(
            "INSERT INTO jobs (job_id, job_key, generation, name, provider, endpoint, params, "
            "inputs, options, status, external_task_id, task_id, result_url, result_path, "
            "created_at, updated_at) VALUES (?,?,0,?,'kling','lip-sync','{}','{}','{}',?,?,?,?,?,"
            "1700000000,1700000001)",
            (job_id, key, f"{job_id}.mp4", status, f"ext-{job_id}", task, url, path_),
        )
    raw.execute("INSERT INTO uploads VALUES ('c', 'kling', 'http://u', NULL, 1)")
    raw.execute(f"PRAGMA application_id = {application_id}")
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()


@pytest.mark.parametrize("application_id", [APPLICATION_ID, 0])  # 0: before application_id
def test_a_schema_1_ledger_opens_and_keeps_its_rows(tmp_path: Path, application_id: int) -> None:
    path = tmp_path / "old.sqlite3"
    v1_ledger(path, application_id=application_id)
    with Ledger(path) as ledger:
        jobs = ledger.jobs()
        assert [j.job_id for j in jobs] == ["aaa111", "bbb222"]
        done = ledger.get("aaa111")
        assert done.status is JobStatus.DONE
        assert done.task_id == "123456789"
        assert done.result_url == "http://r/1.mp4"
        assert (done.estimate, done.billed, done.result_expires) == (None, None, None)
        # the new columns take values, and the old row's lease works as before
        _, lease = ledger.claim("bbb222")
        assert lease is not None
        estimate = {"amount": None, "published": False, "source": "KL-EN"}
        updated = ledger.update(
            lease, estimate=estimate, billed={"amount": 1.0, "unit": "units"}, result_expires=5.0
        )
        lease.release()
        assert updated.estimate == estimate
        assert updated.billed == {"amount": 1.0, "unit": "units"}
        assert updated.result_expires == 5.0
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert raw.execute("SELECT count(*) FROM uploads").fetchone()[0] == 1
    raw.close()
    # opening again changes nothing more
    with Ledger(path) as again:
        assert again.get("bbb222").billed == {"amount": 1.0, "unit": "units"}


def test_two_openers_of_an_old_ledger_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    v1_ledger(path)
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            with Ledger(path) as ledger:
                assert len(ledger.jobs()) == 2
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_new_ledger_has_the_new_columns(tmp_path: Path) -> None:
    with Ledger(tmp_path / "new.sqlite3") as ledger:
        record, lease = ledger.open_job(
            "k" * 64, name="n", provider="kling", endpoint="lip-sync", params={}, inputs={},
            estimate={"amount": "0.070", "currency": "USD", "published": True},
        )  # fmt: skip
        assert lease is not None
        lease.release()
        assert record.estimate == {"amount": "0.070", "currency": "USD", "published": True}
        assert record.to_dict()["estimate"]["amount"] == "0.070"
