"""The job ledger on real SQLite files: keys, rows, leases, the upload and hash caches."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from preflight.model.errors import LedgerError
from preflight.submitting.ledger import JobStatus, Ledger, default_ledger_path, file_sha256, job_key

PARAMS = {"text": "hello", "voice_id": "uk_man2", "voice_language": "en", "voice_speed": 1.0}
INPUTS = {"video": {"sha256": "a" * 64}}


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def open_default(ledger: Ledger, key: str | None = None, **kw: object):  # type: ignore[no-untyped-def]
    key = key or job_key("kling", "lip-sync", PARAMS, INPUTS)
    return ledger.open_job(
        key,
        name="clip.mp4",
        provider="kling",
        endpoint="lip-sync",
        params=PARAMS,
        inputs=INPUTS,
        options={"profile": "kling-lipsync"},
        **kw,  # type: ignore[arg-type]
    )


def test_job_key_is_canonical() -> None:
    a = job_key("kling", "lip-sync", {"text": "hi", "voice_id": "x"}, {"video": {"sha256": "1"}})
    b = job_key(
        "kling",
        "lip-sync",
        {"voice_id": "x", "text": "hi", "voice_speed": None},
        {"video": {"sha256": "1"}},
    )
    assert a == b
    assert len(a) == 64
    assert a != job_key(
        "kling", "lip-sync", {"text": "hi!", "voice_id": "x"}, {"video": {"sha256": "1"}}
    )
    assert a != job_key(
        "kling", "lip-sync", {"text": "hi", "voice_id": "x"}, {"video": {"sha256": "2"}}
    )
    assert a != job_key(
        "wavespeed", "lip-sync", {"text": "hi", "voice_id": "x"}, {"video": {"sha256": "1"}}
    )
    assert a != job_key(
        "kling",
        "lip-sync",
        {"text": "hi", "voice_id": "x"},
        {"video": {"url": "https://h/v.mp4", "etag": "1"}},
    )


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    import hashlib

    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    with pytest.raises(LedgerError, match="cannot read"):
        file_sha256(tmp_path / "missing")


def test_default_path_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PREFLIGHT_LEDGER", str(tmp_path / "x" / "l.db"))
    assert default_ledger_path() == tmp_path / "x" / "l.db"
    monkeypatch.delenv("PREFLIGHT_LEDGER")
    assert default_ledger_path().name == "ledger.sqlite3"
    assert "preflight" in str(default_ledger_path())


def test_open_job_writes_a_row_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ledger.sqlite3"
    ledger = Ledger(path)
    record, lease = open_default(ledger, out_path=str(tmp_path / "out.mp4"))
    assert lease is not None
    assert record.status is JobStatus.PENDING
    assert record.job_id == record.job_key[:12]
    assert record.external_task_id.startswith(f"preflight-{record.job_id}-")
    assert record.lease_pid == os.getpid()
    lease.release()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    row = raw.execute("SELECT status, params, out_path, lease_token FROM jobs").fetchone()
    assert row[0] == "pending"
    assert '"voice_id":"uk_man2"' in row[1]
    assert row[2] == str(tmp_path / "out.mp4")
    assert row[3] is None  # released
    raw.close()


def test_updates_after_every_step_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    record, lease = open_default(ledger)
    assert lease is not None
    ledger.update(lease, status=JobStatus.CHECKED)
    ledger.update(lease, status=JobStatus.FIXED, fixed={"video": str(tmp_path / "f.mp4")})
    ledger.update(
        lease, status=JobStatus.HOSTED, urls={"video": "http://127.0.0.1/v.mp4?X-Sig=secret"}
    )
    ledger.update(lease, status=JobStatus.CREATING)
    ledger.update(lease, status=JobStatus.SUBMITTED, task_id="812345678901234567890")
    done = ledger.update(lease, status=JobStatus.DONE, result_path=tmp_path / "out.mp4")
    lease.release()
    assert done.finished
    again = Ledger(path).get(record.job_id)
    assert again.status is JobStatus.DONE
    assert again.task_id == "812345678901234567890"
    assert again.fixed == {"video": str(tmp_path / "f.mp4")}
    assert again.result_path == str(tmp_path / "out.mp4")
    # listings never show a presigned signature
    assert "secret" not in str(again.to_dict())
    with pytest.raises(LedgerError, match="not a ledger column"):
        ledger.update(lease, job_key="x")


def test_second_open_of_a_held_job_gets_no_lease(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    first, lease = open_default(Ledger(path))
    assert lease is not None
    second, none = open_default(Ledger(path))
    assert none is None
    assert second.job_id == first.job_id
    lease.release()
    third, lease3 = open_default(Ledger(path))
    assert lease3 is not None
    assert third.job_id == first.job_id
    lease3.release()


def test_new_starts_another_generation(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    first, lease = open_default(ledger)
    assert lease is not None
    ledger.update(lease, status=JobStatus.DONE)
    lease.release()
    second, lease2 = open_default(ledger, new=True)
    assert lease2 is not None
    assert second.generation == 1
    assert second.job_id == f"{first.job_id}.1"
    assert second.external_task_id != first.external_task_id
    lease2.release()
    # the same command afterwards resumes the newest generation
    third, lease3 = open_default(ledger)
    assert third.job_id == second.job_id
    assert lease3 is not None
    lease3.release()


def test_an_expired_lease_is_adopted_and_the_old_holder_cannot_write(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "l.db"
    holder = Ledger(path, clock=clock, lease_seconds=3600)
    record, lease = open_default(holder)
    assert lease is not None
    lease._stop.set()  # a stalled holder: no more heartbeats
    clock.now += 3601
    other = Ledger(path, clock=clock, lease_seconds=3600)
    other.host = "another-host"  # not a local pid check: only expiry lets it in
    _adopted, lease2 = other.claim(record.job_id)
    assert lease2 is not None
    with pytest.raises(LedgerError, match="taken over"):
        holder.update(lease, status=JobStatus.CREATING)
    assert lease.lost
    other.update(lease2, status=JobStatus.CHECKED)
    lease2.release()


def test_heartbeat_keeps_the_lease(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db", lease_seconds=0.3)
    record, lease = open_default(ledger)
    assert lease is not None
    before = ledger.get(record.job_id).lease_expires
    assert before is not None
    # wait for renewals by watching the row, not the clock
    for _ in range(200):
        after = ledger.get(record.job_id).lease_expires
        if after is not None and after > before + 0.15:
            break
        lease._stop.wait(0.05)
    else:
        pytest.fail("the lease was never renewed")
    lease.release()
    assert ledger.get(record.job_id).lease_expires is None


def test_lookup_listing_and_prefixes(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    keys = [job_key("kling", "lip-sync", {"text": str(i)}, INPUTS) for i in range(3)]
    ids = []
    for i, key in enumerate(keys):
        rec, lease = open_default(ledger, key)
        assert lease is not None
        ledger.update(lease, status=[JobStatus.DONE, JobStatus.FAILED, JobStatus.SUBMITTED][i])
        lease.release()
        ids.append(rec.job_id)
    assert [r.job_id for r in ledger.jobs()] == ids
    assert [r.job_id for r in ledger.jobs(["failed"])] == [ids[1]]
    assert [r.job_id for r in ledger.unfinished()] == [ids[2]]
    assert ledger.get(ids[0][:8]).job_id == ids[0]
    assert ledger.latest(keys[2]) is not None
    assert ledger.latest("0" * 64) is None
    with pytest.raises(LedgerError, match="no job"):
        ledger.get("zzzz")
    with pytest.raises(LedgerError, match="no job"):
        ledger.claim("zzzz")
    with pytest.raises(ValueError, match="bogus"):
        ledger.jobs(["bogus"])


def test_upload_cache_expires(tmp_path: Path) -> None:
    clock = Clock()
    ledger = Ledger(tmp_path / "l.db", clock=clock)
    assert ledger.cached_upload("s" * 64, "s3://b/p") is None
    ledger.record_upload("s" * 64, "s3://b/p", "http://h/b/p/x.mp4?sig", clock.now + 600)
    assert ledger.cached_upload("s" * 64, "s3://b/p") == (
        "http://h/b/p/x.mp4?sig",
        clock.now + 600,
    )
    assert ledger.cached_upload("s" * 64, "s3://other") is None
    assert ledger.cached_upload("s" * 64, "s3://b/p", min_valid=900) is None
    clock.now += 601
    assert ledger.cached_upload("s" * 64, "s3://b/p") is None
    ledger.record_upload("t" * 64, "wavespeed", "http://h/u", None)  # no known expiry
    clock.now += 10**6
    assert ledger.cached_upload("t" * 64, "wavespeed") == ("http://h/u", None)


def test_file_hash_cache_follows_changes(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    path = tmp_path / "a.bin"
    path.write_bytes(b"one")
    first = ledger.file_sha256(path)
    assert first == file_sha256(path)
    assert ledger.file_sha256(path) == first
    path.write_bytes(b"two!")
    os.utime(path, ns=(1, 1))
    assert ledger.file_sha256(path) == file_sha256(path) != first


def test_a_file_that_is_not_a_ledger_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(LedgerError, match="not a usable ledger"):
        Ledger(path)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    Ledger(path).close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.commit()
    raw.close()
    with pytest.raises(LedgerError, match="newer preflight"):
        Ledger(path)


_CONTENDER = textwrap.dedent(
    """
    import os, sys
    from preflight.submitting.ledger import JobStatus, Ledger, job_key
    ledger = Ledger(sys.argv[1], lease_seconds=5)
    key = job_key("kling", "lip-sync", {"text": "race"}, {"video": {"sha256": "b" * 64}})
    sys.stdin.readline()  # the start gun
    record, lease = ledger.open_job(key, name="race", provider="kling", endpoint="lip-sync",
                                    params={"text": "race"}, inputs={}, options={})
    if lease is None:
        record, lease = ledger.wait_claim(record.job_id, timeout=60, poll=0.02)
    if lease is not None and record.task_id is None:
        ledger.update(lease, status=JobStatus.CREATING)
        fd = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{os.getpid()}\\n".encode())   # "the create call"
        os.close(fd)
        ledger.update(lease, status=JobStatus.DONE, task_id=str(os.getpid()))
    if lease is not None:
        lease.release()
    print(ledger.get(record.job_id).task_id)
    """
)


def test_processes_racing_for_one_job_create_once(tmp_path: Path) -> None:
    ledger_path = tmp_path / "shared.sqlite3"
    creates = tmp_path / "creates.log"
    Ledger(ledger_path).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CONTENDER, str(ledger_path), str(creates)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outputs.append(out.strip())
    lines = creates.read_text().split()
    assert len(lines) == 1
    assert set(outputs) == {lines[0]}  # every process reports the one task


_HOLDER = textwrap.dedent(
    """
    import sys
    from preflight.submitting.ledger import Ledger, job_key
    ledger = Ledger(sys.argv[1], lease_seconds=3600)
    key = job_key("kling", "lip-sync", {"text": "dies"}, {})
    record, lease = ledger.open_job(key, name="d", provider="kling", endpoint="lip-sync",
                                    params={"text": "dies"}, inputs={}, options={})
    print(record.job_id, flush=True)
    sys.stdin.readline()  # hold the lease until killed
    """
)


def test_a_dead_holder_on_this_host_is_adopted_at_once(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    job_id = proc.stdout.readline().strip()
    ledger = Ledger(path)
    _, lease = ledger.claim(job_id)
    assert lease is None  # alive: held for an hour
    with pytest.raises(LedgerError, match="gave up waiting"):
        ledger.wait_claim(job_id, timeout=0.1, poll=0.02)
    proc.kill()
    proc.wait()
    assert proc.stdin is not None
    proc.stdin.close()
    proc.stdout.close()
    record, lease = ledger.wait_claim(job_id, timeout=10)
    assert lease is not None
    assert record.lease_pid == os.getpid()
    lease.release()


def test_close_all_closes_every_threads_connection(tmp_path: Path) -> None:
    import threading

    ledger = Ledger(tmp_path / "l.db")
    seen: list[int] = []

    def use() -> None:
        seen.append(len(ledger.jobs()))

    threads = [threading.Thread(target=use) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [0, 0, 0]
    assert len(ledger._all) == 4  # the constructor's thread and three workers
    with ledger:
        pass
    assert ledger._all == set()
    assert ledger.jobs() == []  # usable again: a new connection opens on demand
    ledger.close_all()


_OPEN_AT = textwrap.dedent(
    """
    import sys, time
    from preflight.submitting.ledger import Ledger
    start = float(sys.argv[2])
    while time.time() < start:
        pass
    Ledger(sys.argv[1]).close()
    """
)


def test_processes_opening_a_new_ledger_together_all_succeed(tmp_path: Path) -> None:
    """SQLite can answer "database is locked" at once while another process switches a new
    file to WAL; two `preflight submit` runs started together must both get the ledger."""
    import time

    for trial in range(5):
        path = tmp_path / f"ledger-{trial}.sqlite3"
        start = time.time() + 1.0  # every process spins until the same instant, then opens
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _OPEN_AT, str(path), str(start)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
        assert Ledger(path).jobs() == []
