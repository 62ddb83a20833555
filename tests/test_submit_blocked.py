"""A tidy ledger: blocked jobs, `resume` with hosting options, `jobs rm`/`jobs cancel`, and the
library's provider taken from its client. Real HTTP against the loopback sandbox, real FFmpeg,
real SQLite, a real S3-compatible server for hosting."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.client import KlingClient, WaveSpeedClient
from preflight.model.errors import LedgerError, ProviderMismatchError
from preflight.sandbox import Sandbox, SandboxConfig
from preflight.submitting import Event, KlingProvider, Outcome, SubmitRequest, Submitter, submit
from preflight.submitting.admin import cancel_job
from preflight.submitting.ledger import JobStatus, Ledger

Media = Callable[[str], Path]
TEXT = ["--text", "hi", "--voice-id", "genshin_klee2", "--no-face"]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)) as sb:
        yield sb


def env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    return {**sandbox.environment(), "PREFLIGHT_LEDGER": str(tmp_path / "cli.sqlite3")}


def copy(media: Media, name: str, tmp_path: Path) -> Path:
    source = media(name)
    target = tmp_path / source.name
    target.write_bytes(source.read_bytes())
    return target


def test_a_local_video_without_hosting_is_blocked_then_resumed_with_upload_to(
    sandbox: Sandbox, media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    video = copy(media, "ok", tmp_path)
    runner = CliRunner()
    first = runner.invoke(main, ["submit", str(video), *TEXT], env=env(sandbox, tmp_path))
    assert first.exit_code == 1, first.output
    assert "blocked:" in first.output
    assert "--upload-to" in first.output
    assert "check: passes" in first.output  # judged first: every finding is known at once
    (record,) = Ledger(tmp_path / "cli.sqlite3").jobs()
    assert record.status is JobStatus.BLOCKED
    assert sandbox.tasks() == []

    # a plain `resume` lists it with its action and leaves it alone: exit 0, not a failure
    listed = runner.invoke(main, ["resume"], env=env(sandbox, tmp_path))
    assert listed.exit_code == 0, listed.output
    assert f"blocked   {record.job_id}" in listed.output
    assert "--upload-to" in listed.output
    as_json = runner.invoke(main, ["resume", "--format", "json"], env=env(sandbox, tmp_path))
    assert json.loads(as_json.output.splitlines()[-1])["job_id"] == record.job_id
    assert Ledger(tmp_path / "cli.sqlite3").get(record.job_id).status is JobStatus.BLOCKED

    # the action: the same job, resumed with the hosting option it lacked
    done = runner.invoke(
        main, ["resume", "--upload-to", f"s3://{s3_bucket}/in"], env=env(sandbox, tmp_path)
    )
    assert done.exit_code == 0, done.output
    assert Ledger(tmp_path / "cli.sqlite3").get(record.job_id).status is JobStatus.DONE
    (task,) = sandbox.tasks()
    assert f"/{s3_bucket}/in/" in task.params["video_url"]
    assert video.with_name("ok 720p.lipsync.mp4").is_file()


def test_a_url_needing_a_fix_on_kling_is_blocked_before_any_download_or_encode(
    sandbox: Sandbox, media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    url = sandbox.serve_file(media("mkv"))  # Matroska: Kling wants mp4/mov, so it needs a remux
    events: list[Event] = []
    ledger = Ledger(tmp_path / "l.sqlite3")
    with KlingClient(
        sandbox.kling_access_key, sandbox.kling_secret_key, base_url=sandbox.url
    ) as client:
        runner = Submitter(ledger, {"kling": KlingProvider(client)}, on_event=events.append)
        request = SubmitRequest(
            url, text="hi", voice_id="genshin_klee2", face=False, out=str(tmp_path / "u.mp4")
        )
        result = runner.run(request)
        assert result.outcome is Outcome.BLOCKED
        assert result.exit_code == 1
        assert result.action is not None
        assert "--upload-to" in result.action
        assert "needs a fix" in (result.reason or "")
        assert not [e for e in events if e.step == "fix"]  # nothing encoded ...
        assert not list((tmp_path / "work").rglob("*.*"))  # ... nor downloaded
        assert ledger.get(result.job_id or "").status is JobStatus.BLOCKED
        assert sandbox.tasks() == []

        finished = runner.resume(result.job_id or "", upload_to=f"s3://{s3_bucket}/fixed")
        assert finished.outcome is Outcome.DONE, finished.reason
        assert finished.job_id == result.job_id
        (task,) = sandbox.tasks()
        assert f"/{s3_bucket}/fixed/" in task.params["video_url"]
    assert (tmp_path / "u.mp4").is_file()


def test_a_local_file_needing_a_fix_is_blocked_before_the_encode(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    video = copy(media, "mkv", tmp_path)
    events: list[Event] = []
    with KlingClient(
        sandbox.kling_access_key, sandbox.kling_secret_key, base_url=sandbox.url
    ) as client:
        runner = Submitter(
            Ledger(tmp_path / "l.sqlite3"), {"kling": KlingProvider(client)}, on_event=events.append
        )
        result = runner.run(
            SubmitRequest(str(video), text="hi", voice_id="genshin_klee2", face=False)
        )
    assert result.outcome is Outcome.BLOCKED
    assert "is a local file" in (result.reason or "")
    assert ("check", "fail") in [(e.step, e.state) for e in events]
    assert not [e for e in events if e.step == "fix"]
    assert not (tmp_path / "work").exists()
    assert sandbox.tasks() == []


def test_jobs_rm_and_cancel(sandbox: Sandbox, media: Media, tmp_path: Path) -> None:
    runner = CliRunner()
    environment = env(sandbox, tmp_path)
    for name in ("ok", "ok_mov"):
        runner.invoke(main, ["submit", str(copy(media, name, tmp_path)), *TEXT], env=environment)
    first, second = Ledger(tmp_path / "cli.sqlite3").jobs()

    removed = runner.invoke(main, ["jobs", "rm", first.job_id[:8]], env=environment)
    assert removed.exit_code == 0, removed.output
    assert f"removed job {first.job_id}" in removed.output
    cancelled = runner.invoke(main, ["jobs", "cancel", second.job_id], env=environment)
    assert cancelled.exit_code == 0, cancelled.output
    (left,) = Ledger(tmp_path / "cli.sqlite3").jobs()
    assert (left.job_id, left.status) == (second.job_id, JobStatus.CANCELLED)

    again = runner.invoke(main, ["jobs", "cancel", second.job_id], env=environment)
    assert again.exit_code == 1
    assert "already cancelled" in again.output
    missing = runner.invoke(main, ["jobs", "rm", "nosuchjob"], env=environment)
    assert missing.exit_code == 1
    assert "no job" in missing.output
    # a cancelled job is neither resumed nor run again by the same command
    assert runner.invoke(main, ["resume"], env=environment).exit_code == 0
    rerun = runner.invoke(main, ["submit", second.options["video"], *TEXT], env=environment)
    assert rerun.exit_code == 1
    assert "cancelled" in rerun.output
    assert sandbox.tasks() == []


def test_cancel_and_rm_of_a_running_task_say_what_happens_at_the_provider(
    media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    with Sandbox(SandboxConfig(clock_scale=0.0)) as sandbox:  # the task stays submitted
        runner = CliRunner()
        environment = env(sandbox, tmp_path)
        video = copy(media, "ok", tmp_path)
        args = ["submit", str(video), *TEXT, "--upload-to", f"s3://{s3_bucket}", "--no-wait"]
        assert runner.invoke(main, args, env=environment).exit_code == 0
        ledger = Ledger(tmp_path / "cli.sqlite3")
        (record,) = ledger.jobs()
        assert record.status is JobStatus.SUBMITTED

        refused = runner.invoke(main, ["jobs", "rm", record.job_id], env=environment)
        assert refused.exit_code == 1
        assert "jobs cancel" in refused.output
        with pytest.raises(LedgerError, match="--force"):
            ledger.remove(record.job_id)

        outcome = cancel_job(ledger, record.job_id)
        assert outcome.record.status is JobStatus.CANCELLED
        assert outcome.note is not None
        assert "no way to cancel" in outcome.note
        assert record.task_id is not None
        assert record.task_id in outcome.note
        assert ledger.remove(record.job_id).job_id == record.job_id
        assert ledger.jobs() == []


def test_the_library_takes_the_provider_from_the_client(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    url = sandbox.serve_file(media("ok"))
    ledger = Ledger(tmp_path / "l.sqlite3")
    with WaveSpeedClient(sandbox.wavespeed_api_key, base_url=sandbox.url) as client:
        result = submit(
            url, text="hi", voice_id="genshin_klee2", face=False, client=client, ledger=ledger,
            out=tmp_path / "ws.mp4",
        )  # fmt: skip
        assert result.outcome is Outcome.DONE, result.reason
        assert result.provider == "wavespeed"
        (task,) = sandbox.tasks()
        assert task.provider == "wavespeed"

        # a client of one provider named as another: a typed error, and no ledger row
        with pytest.raises(ProviderMismatchError, match="WaveSpeedClient"):
            submit(url, provider="kling", client=client, text="x", voice_id="v", ledger=ledger,
                   new=True)  # fmt: skip
    with pytest.raises(ProviderMismatchError, match="KlingClient"):
        submit(url, client=object(), text="x", voice_id="v", ledger=ledger)
    assert [r.job_id for r in ledger.jobs()] == [result.job_id]
    assert len(sandbox.tasks()) == 1
