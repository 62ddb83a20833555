"""Crashes and races with real processes: `preflight submit` killed with SIGKILL right after the
create reached the provider or in the middle of the download, and two processes started at once
on the same job. Afterwards: exactly one task at the sandbox, the whole file at OUT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from preflight.sandbox import Sandbox, SandboxConfig
from preflight.submitting.download import part_path
from preflight.submitting.ledger import JobStatus, Ledger

Media = Callable[[str], Path]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)) as sb:
        yield sb


@pytest.fixture
def job(
    sandbox: Sandbox, media: Media, tmp_path: Path, s3_bucket: str
) -> tuple[list[str], dict[str, str], Path]:
    """argv, environment and OUT of one `preflight submit` job run as a separate process."""
    video = tmp_path / "clip.mp4"
    video.write_bytes(media("ok").read_bytes())
    out = tmp_path / "result.mp4"
    argv = [
        sys.executable, "-m", "preflight", "submit", "--no-face", str(video),
        "--text", "crash test", "--voice-id", "genshin_klee2",
        "--upload-to", f"s3://{s3_bucket}/in", "-o", str(out),
        "--timeout", "60",
    ]  # fmt: skip
    env = {
        **os.environ,
        **sandbox.environment(),
        "PREFLIGHT_LEDGER": str(tmp_path / "ledger.sqlite3"),
    }
    env.pop("PREFLIGHT_CRASH_AT", None)
    return argv, env, out


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def test_killed_right_after_create_then_rerun_finds_the_task(
    sandbox: Sandbox, job: tuple[list[str], dict[str, str], Path], tmp_path: Path
) -> None:
    argv, env, out = job
    mark = tmp_path / "crashed"
    crashed = run(argv, {**env, "PREFLIGHT_CRASH_AT": "after-create",
                         "PREFLIGHT_CRASH_MARK": str(mark)})  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert mark.read_text() == "after-create"
    assert len(sandbox.tasks()) == 1  # the provider got the create ...
    (record,) = Ledger(tmp_path / "ledger.sqlite3").jobs()
    assert record.status is JobStatus.CREATING  # ... and the ledger never heard the answer
    assert record.task_id is None
    assert not out.exists()

    again = run(argv, env)
    assert again.returncode == 0, again.stderr
    assert len(sandbox.tasks()) == 1  # found, not created again
    (record,) = Ledger(tmp_path / "ledger.sqlite3").jobs()
    assert record.status is JobStatus.DONE
    assert record.task_id == sandbox.tasks()[0].id
    assert out.stat().st_size > 0
    assert "found task" in again.stderr


def test_killed_mid_download_then_rerun_completes_the_file(
    sandbox: Sandbox, job: tuple[list[str], dict[str, str], Path], tmp_path: Path
) -> None:
    argv, env, out = job
    crashed = run(argv, {**env, "PREFLIGHT_CRASH_AT": "mid-download"})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert not out.exists()  # never a partial file at OUT
    partial = part_path(out)
    assert partial.stat().st_size > 0
    (record,) = Ledger(tmp_path / "ledger.sqlite3").jobs()
    assert record.status is JobStatus.SUCCEEDED
    assert record.result_url is not None
    expected = httpx.get(record.result_url).content
    assert partial.stat().st_size < len(expected)

    again = run(argv, env)
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == expected
    assert not partial.exists()
    assert len(sandbox.tasks()) == 1


def test_two_processes_at_once_create_one_task(
    sandbox: Sandbox, job: tuple[list[str], dict[str, str], Path], tmp_path: Path
) -> None:
    argv, env, out = job
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (stdout, stderr) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, stderr
        assert stdout.strip() == str(out)
    assert len(sandbox.tasks()) == 1
    assert len(Ledger(tmp_path / "ledger.sqlite3").jobs()) == 1
    assert out.stat().st_size > 0


def test_a_wavespeed_create_that_cannot_be_looked_up_is_never_sent_twice(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(media("ok").read_bytes())
    argv = [
        sys.executable, "-m", "preflight", "submit", "--no-face", str(video),
        "--audio", str(media("mp3")), "--provider", "wavespeed", "-o", str(tmp_path / "ws.mp4"),
    ]  # fmt: skip
    env = {**os.environ, **sandbox.environment(),
           "PREFLIGHT_LEDGER": str(tmp_path / "ledger.sqlite3")}  # fmt: skip
    crashed = run(argv, {**env, "PREFLIGHT_CRASH_AT": "after-create"})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert len(sandbox.tasks()) == 1

    refused = run(argv, env)
    assert refused.returncode == 1
    assert "--new" in refused.stderr
    assert len(sandbox.tasks()) == 1  # WaveSpeed has no lookup: not sent again

    forced = run([*argv, "--new"], env)  # the user's explicit choice
    assert forced.returncode == 0, forced.stderr
    assert len(sandbox.tasks()) == 2
