"""Result links expire (Kling deletes results after 30 days): the ledger records when, and `jobs`
and `resume` warn before and say plainly after. Against the loopback sandbox over real HTTP."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from preflight.cli import main
from preflight.sandbox import Sandbox, SandboxConfig
from preflight.submitting.expiry import DAY, link_state
from preflight.submitting.ledger import JobRecord, JobStatus, Ledger
from preflight.submitting.registry import REGISTRY

Media = Callable[[str], Path]
TEXT = ["--text", "Hello", "--voice-id", "genshin_klee2", "--no-face"]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)) as sb:
        yield sb


def run(sandbox: Sandbox, tmp_path: Path, *args: str) -> Result:
    env = {**sandbox.environment(), "PREFLIGHT_LEDGER": str(tmp_path / "ledger.sqlite3")}
    return CliRunner().invoke(main, list(args), env=env)


def age(tmp_path: Path, job_id: str, **columns: object) -> None:
    """Move a row on in time, as days passing would (the ledger's own file, plain SQL)."""
    raw = sqlite3.connect(tmp_path / "ledger.sqlite3")
    sets = ", ".join(f"{k}=?" for k in columns)
    raw.execute(f"UPDATE jobs SET {sets} WHERE job_id=?", (*columns.values(), job_id))
    raw.commit()
    raw.close()


def record(**changes: object) -> JobRecord:
    base: dict[str, object] = {
        "job_id": "abc", "job_key": "k", "generation": 0, "name": "n", "provider": "kling",
        "endpoint": "lip-sync", "params": {}, "inputs": {}, "options": {},
        "status": JobStatus.SUCCEEDED, "external_task_id": "e", "result_url": "http://r/x.mp4",
        "result_expires": 100 * DAY,
    }  # fmt: skip
    return JobRecord(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now_days", "local", "state"),
    [
        (90.0, False, None),  # 10 days left: nothing to say
        (97.0, False, "expiring"),  # exactly 3 days left
        (99.9, False, "expiring"),
        (99.9, True, None),  # downloaded already: the link no longer matters
        (100.0, False, "expired"),
        (130.0, True, "expired"),  # said once expired, pointing at the local file
    ],
)
def test_link_states(tmp_path: Path, now_days: float, local: bool, state: str | None) -> None:
    path = tmp_path / "x.mp4"
    if local:
        path.write_bytes(b"x")
    found = link_state(record(result_path=str(path)), now=now_days * DAY)
    assert (found and found.state) == state
    if state == "expired":
        assert found is not None
        assert (str(path) in found.message) == local
        assert ("--new" in found.message) != local


def test_no_documented_retention_means_no_expiry() -> None:
    assert REGISTRY["kling"].result_days == 30
    assert "KL-EN" in REGISTRY["kling"].result_days_source
    assert REGISTRY["wavespeed"].result_days is None  # not documented: nothing recorded
    assert link_state(record(result_expires=None), now=1e12) is None


def test_the_ledger_records_expiry_and_jobs_and_resume_warn(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    out = tmp_path / "talk.mp4"
    started = time.time()
    done = run(sandbox, tmp_path, "submit", sandbox.serve_file(media("ok")), *TEXT, "-o", str(out))
    assert done.exit_code == 0, done.output
    (job,) = Ledger(tmp_path / "ledger.sqlite3").jobs()
    assert job.result_expires is not None
    # thirty days from the task's creation (never later than the provider's own clock)
    assert started - 5 + 30 * DAY <= job.result_expires <= time.time() + 30 * DAY
    assert "expire" not in run(sandbox, tmp_path, "jobs").output  # 30 days left: quiet

    # two days before: a job not downloaded is listed with a warning, and resume says so too
    age(tmp_path, job.job_id, status="succeeded", result_path=None,
        result_expires=time.time() + 2 * DAY)  # fmt: skip
    out.unlink()
    listing = run(sandbox, tmp_path, "jobs")
    assert "result link expires in 2 days" in listing.output
    assert f"preflight resume {job.job_id}" in listing.output
    resumed = run(sandbox, tmp_path, "resume", job.job_id)
    assert resumed.exit_code == 0, resumed.output
    assert "result link expires in 2 days" in resumed.output
    assert out.exists()  # still downloadable: resume fetched it

    # past the expiry with the file kept: said plainly, with where the file is
    age(tmp_path, job.job_id, result_expires=time.time() - DAY)
    listing = run(sandbox, tmp_path, "jobs")
    assert "result link expired on" in listing.output
    assert f"the downloaded file is still at {out}" in listing.output
    as_json = json.loads(run(sandbox, tmp_path, "jobs", "-f", "json").output)
    assert as_json[0]["result_link"]["state"] == "expired"

    # and without it: what the user can do
    out.unlink()
    age(tmp_path, job.job_id, status="succeeded", result_path=None)
    resumed = run(sandbox, tmp_path, "resume", job.job_id, "-f", "json")
    events = [json.loads(line) for line in resumed.output.splitlines()]
    warning = next(e for e in events if e.get("event") == "result_link")
    assert warning["state"] == "expired"
    assert "--new" in warning["message"]
