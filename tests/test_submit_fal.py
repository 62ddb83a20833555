"""`preflight submit/status/resume --provider fal` end to end: the sandbox's fal queue over real
HTTP, real FFmpeg, the real SQLite ledger, local media uploaded to the sandbox's fal CDN."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.probing import probe
from preflight.sandbox import Sandbox, SandboxConfig
from preflight.submitting.ledger import JobStatus, Ledger

Media = Callable[[str], Path]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)) as sb:
        yield sb


def env_for(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    return {**sandbox.environment(), "PREFLIGHT_LEDGER": str(tmp_path / "cli.sqlite3")}


def copy(media: Media, name: str, tmp_path: Path) -> Path:
    source = media(name)
    target = tmp_path / source.name
    target.write_bytes(source.read_bytes())
    return target


def test_audio_job_uploads_submits_downloads_and_a_rerun_does_not_pay_twice(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    video, audio = copy(media, "ok", tmp_path), copy(media, "mp3", tmp_path)
    out = tmp_path / "talking.mp4"
    args = ["submit", "--no-face", str(video), "--audio", str(audio), "--provider", "fal",
            "-o", str(out)]  # fmt: skip
    env = env_for(sandbox, tmp_path)
    first = CliRunner().invoke(main, args, env=env)
    assert first.exit_code == 0, first.output
    facts = probe(out)
    assert facts.video is not None
    assert facts.audio is not None
    tasks = sandbox.tasks("fal")
    assert len(tasks) == 1
    assert tasks[0].endpoint == "fal-ai/kling-video/lipsync/audio-to-video"
    assert tasks[0].params["video_url"].startswith(f"{sandbox.url}/files/uploads/")  # its CDN
    record = Ledger(tmp_path / "cli.sqlite3").jobs()[0]
    assert (record.provider, record.status, record.task_id) == ("fal", JobStatus.DONE, tasks[0].id)
    assert sandbox.fal_key not in first.output

    again = CliRunner().invoke(main, args, env=env)
    assert again.exit_code == 0, again.output
    assert len(sandbox.tasks("fal")) == 1  # the same job: nothing queued (or paid) twice
    assert len(Ledger(tmp_path / "cli.sqlite3").jobs()) == 1


def test_text_job_is_checked_against_fals_profile_and_status_finds_it(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    video = copy(media, "ok", tmp_path)
    env = env_for(sandbox, tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["submit", "--no-face", str(video), "--text", "Hello from fal", "--voice-id", "AOT",
         "--provider", "fal", "--format", "json", "-o", str(tmp_path / "t.mp4")],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines[-1]["outcome"] == "done"
    (task,) = sandbox.tasks("fal")
    assert task.endpoint == "fal-ai/kling-video/lipsync/text-to-video"
    assert task.params["text"] == "Hello from fal"
    # a dashed UUID: the ledger says whose it is, so no --provider is needed
    status = runner.invoke(main, ["status", task.id, "--format", "json"], env=env)
    assert status.exit_code == 0, status.output
    shown = json.loads(status.output)
    assert (shown["provider"], shown["status"], shown["kind"]) == ("fal", "succeeded", "fal")
    assert shown["videos"][0]["url"] == task.result_url
    # without the ledger the shape is ambiguous (WaveSpeed's ids may look the same): it asks
    elsewhere = {**env, "PREFLIGHT_LEDGER": str(tmp_path / "other.sqlite3")}
    asked = runner.invoke(main, ["status", task.id], env=elsewhere)
    assert asked.exit_code == 2
    assert "--provider wavespeed or --provider fal" in asked.output
    named = runner.invoke(main, ["status", task.id, "--provider", "fal"], env=elsewhere)
    assert named.exit_code == 0, named.output
    assert "succeeded" in named.output


def test_a_profile_limit_of_fal_blocks_the_job_before_anything_is_sent(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        main,
        ["submit", "--no-face", str(media("short")), "--no-fix", "--audio", str(media("mp3")),
         "--provider", "fal", "-o", str(tmp_path / "x.mp4")],
        env=env_for(sandbox, tmp_path),
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "fal-kling-lipsync-a2v" in result.output
    assert "video.duration" in result.output
    assert sandbox.tasks("fal") == []


def test_gave_up_waiting_then_resume_finishes_the_fal_job(media: Media, tmp_path: Path) -> None:
    with Sandbox(SandboxConfig(clock_scale=0.0)) as sandbox:  # tasks move when the test says
        env = env_for(sandbox, tmp_path)
        video, audio = copy(media, "ok", tmp_path), copy(media, "mp3", tmp_path)
        runner = CliRunner()
        args = ["submit", "--no-face", str(video), "--audio", str(audio), "--provider", "fal",
                "--timeout", "0.5"]  # fmt: skip
        first = runner.invoke(main, args, env=env)
        assert first.exit_code == 3, first.output
        record = Ledger(tmp_path / "cli.sqlite3").jobs()[0]
        assert record.provider == "fal"
        assert record.task_id is not None
        assert f"preflight resume {record.job_id}" in first.output
        queued = runner.invoke(main, ["status", record.task_id], env=env)
        assert "submitted" in queued.output
        assert "in queue, position 0" in queued.output

        sandbox.settle()
        resumed = runner.invoke(main, ["resume", record.job_id], env=env)
        assert resumed.exit_code == 0, resumed.output
        assert probe(video.with_name("ok 720p.lipsync.mp4")).video is not None
        assert len(sandbox.tasks("fal")) == 1


def test_bad_key_is_one_line_and_never_shown(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    env = {**env_for(sandbox, tmp_path), "FAL_KEY": "fal_not_the_right_key_123456"}
    result = CliRunner().invoke(
        main,
        ["submit", "--no-face", str(copy(media, "ok", tmp_path)), "--audio",
         str(copy(media, "mp3", tmp_path)), "--provider", "fal"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "fal_not_the_right_key_123456" not in result.output
    assert "to fal failed: fal: No user found for Key ID and Secret (http=401)" in result.output
    assert sandbox.tasks("fal") == []


def test_listen_ends_the_fal_job_by_its_webhook(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    video, audio = copy(media, "ok", tmp_path), copy(media, "mp3", tmp_path)
    args = ["submit", "--no-face", str(video), "--audio", str(audio), "--provider", "fal",
            "--listen", ":0", "--format", "json"]  # fmt: skip
    result = CliRunner().invoke(main, args, env=env_for(sandbox, tmp_path))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    heard = [e for e in lines if e.get("event") == "wait" and e.get("via") == "callback"]
    assert heard, "the wait never heard fal's webhook"
    # fal's webhook is not verified here: the wait confirms it by a query
    assert heard[-1]["verified"] is False
    assert heard[-1]["status"] == "succeeded"
    (delivery,) = sandbox.callbacks()  # fal calls once, when the request is done
    assert delivery["http_status"] == 200
    assert delivery["status"] == "OK"


def test_jobs_cancel_asks_fal_to_cancel_the_queued_request(media: Media, tmp_path: Path) -> None:
    with Sandbox(SandboxConfig(clock_scale=0.0)) as sandbox:  # the request stays queued
        env = env_for(sandbox, tmp_path)
        runner = CliRunner()
        args = ["submit", "--no-face", str(copy(media, "ok", tmp_path)), "--audio",
                str(copy(media, "mp3", tmp_path)), "--provider", "fal", "--no-wait"]  # fmt: skip
        assert runner.invoke(main, args, env=env).exit_code == 0
        (record,) = Ledger(tmp_path / "cli.sqlite3").jobs()
        assert record.task_id is not None
        assert sandbox.task(record.task_id).status == "submitted"

        cancelled = runner.invoke(main, ["jobs", "cancel", record.job_id], env=env)
        assert cancelled.exit_code == 0, cancelled.output
        assert f"asked fal to cancel task {record.task_id}: CANCELLATION_REQUESTED" in (
            cancelled.output
        )
        assert sandbox.task(record.task_id).status == "failed"  # fal dropped it from its queue
        (after,) = Ledger(tmp_path / "cli.sqlite3").jobs()
        assert after.status is JobStatus.CANCELLED
        again = runner.invoke(main, args, env=env)  # a re-run leaves a cancelled job alone
        assert len(sandbox.tasks("fal")) == 1, again.output
