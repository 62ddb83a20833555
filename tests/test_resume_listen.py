"""`resume --listen` and `animate --listen`, over real HTTP against the loopback sandbox.

A resumed job whose create has not happened yet sends the receiver's URL and ends by callback, as
`submit --listen` does. A task created before the receiver started keeps the callback URL that run
sent: it is polled as the client polls, and a callback that does reach the receiver (the same
address: a fixed port, or the same --public-url) still wakes it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sandbox_support import until

from preflight.cli import main
from preflight.client import KlingClient
from preflight.sandbox import Sandbox, SandboxConfig
from preflight.submitting import Event, KlingProvider, Outcome, SubmitRequest, Submitter
from preflight.submitting.ledger import JobStatus, Ledger
from preflight.submitting.listen import POLL_INTERVAL, Listener

Media = Callable[[str], Path]
SAY = ["--no-face", "--text", "Hello from the tests", "--voice-id", "genshin_klee2"]
TEXT: dict[str, Any] = {"text": "Hello from the tests", "voice_id": "genshin_klee2", "face": False}
BEFORE = "was created before this receiver started"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)) as sb:
        yield sb


@pytest.fixture
def frozen() -> Iterator[Sandbox]:
    """A sandbox whose tasks move only when the test says (`advance`/`settle`)."""
    with Sandbox(SandboxConfig(clock_scale=0, webhook_retry_seconds=0.01)) as sb:
        yield sb


def cli_env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    return {**sandbox.environment(), "PREFLIGHT_LEDGER": str(tmp_path / "cli.sqlite3")}


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def waits(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in lines if e.get("event") == "wait" and e.get("via")]


def callback_of(sandbox: Sandbox, task_id: str) -> str | None:
    """The callback URL the task's create carried (the sandbox keeps it with the task)."""
    with sandbox.core.store.lock:
        return sandbox.core.store.tasks[task_id].callback_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_resume_of_a_job_not_yet_created_sends_the_receivers_url(
    sandbox: Sandbox, media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(media("ok").read_bytes())
    env = cli_env(sandbox, tmp_path)
    blocked = CliRunner().invoke(main, ["submit", str(video), *SAY], env=env)
    assert blocked.exit_code == 1, blocked.output  # a local file on Kling needs hosting
    (record,) = Ledger(tmp_path / "cli.sqlite3").jobs()
    assert record.status is JobStatus.BLOCKED
    args = ["resume", record.job_id, "--upload-to", f"s3://{s3_bucket}/in", "--listen", "0",
            "--format", "json"]  # fmt: skip
    started = time.monotonic()
    result = CliRunner().invoke(main, args, env=env)
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    lines = json_lines(result.output)
    (listening,) = [e for e in lines if e["event"] == "listen"]
    looks = waits(lines)
    assert {e["via"] for e in looks} == {"callback"}  # relied on: no fallback poll was needed
    assert looks[-1]["status"] == "succeeded"
    assert elapsed < POLL_INTERVAL / 2
    assert {d["url"] for d in sandbox.callbacks()} == {listening["bind"]}
    assert not any(BEFORE in e.get("message", "") for e in lines)
    assert Ledger(tmp_path / "cli.sqlite3").get(record.job_id).status is JobStatus.DONE


def test_a_task_created_earlier_is_woken_by_a_callback_that_reaches_the_new_receiver(
    frozen: Sandbox, media: Media, tmp_path: Path
) -> None:
    url = frozen.serve_file(media("ok"))
    port = free_port()
    ledger_path = tmp_path / "ledger.sqlite3"
    request = SubmitRequest(url, **TEXT, out=str(tmp_path / "o.mp4"), timeout=0.5)
    with (
        KlingClient(frozen.kling_access_key, frozen.kling_secret_key, base_url=frozen.url) as kc,
        Listener(port=port) as first,
        Submitter(Ledger(ledger_path), {"kling": KlingProvider(kc)}, listener=first) as runner,
    ):
        gave_up = runner.run(request)  # the clock stands still: the first run gives up waiting
    assert gave_up.outcome is Outcome.TIMED_OUT
    (task,) = frozen.tasks()
    assert callback_of(frozen, task.id) == first.url  # sent by the run that created it

    events: list[Event] = []
    results: list[Any] = []
    with (
        KlingClient(frozen.kling_access_key, frozen.kling_secret_key, base_url=frozen.url) as kc,
        Listener(port=port, on_event=events.append) as again,  # the same address, a new receiver
        Submitter(
            Ledger(ledger_path),
            {"kling": KlingProvider(kc)},
            on_event=events.append,
            listener=again,
        ) as runner,
    ):
        assert not again.expects(task.id)
        job = gave_up.job_id or ""
        worker = threading.Thread(target=lambda: results.append(runner.resume(job)), daemon=True)
        worker.start()
        until(lambda: any(BEFORE in e.message for e in events))
        frozen.advance(0.06)  # submitted -> processing: the sandbox calls the task's URL
        until(lambda: any(e.data.get("via") == "callback" for e in events))
        frozen.settle()
        worker.join(timeout=60)
    assert not worker.is_alive()
    (result,) = results
    assert result.outcome is Outcome.DONE, result.reason
    woke = [e for e in events if e.data.get("via") == "callback"]
    assert woke[0].data["claimed"] == "processing"
    assert len(frozen.tasks()) == 1  # resumed, never created again


def test_a_task_created_without_a_receiver_is_polled_as_usual(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    url = sandbox.serve_file(media("ok"))
    env = cli_env(sandbox, tmp_path)
    out = tmp_path / "out.mp4"
    created = CliRunner().invoke(main, ["submit", url, *SAY, "-o", str(out), "--no-wait"], env=env)
    assert created.exit_code == 0, created.output
    (task,) = sandbox.tasks()
    assert callback_of(sandbox, task.id) is None
    started = time.monotonic()
    result = CliRunner().invoke(main, ["resume", "--listen", "--format", "json"], env=env)
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0
    lines = json_lines(result.output)
    assert any(BEFORE in e.get("message", "") for e in lines)
    assert waits(lines) == []  # no callback came, and the usual polls are not announced
    assert elapsed < POLL_INTERVAL / 2  # polled at the client's pace, not the receiver's 60 s
    assert sandbox.callbacks() == []


def test_animate_listens_for_its_lip_sync_task(
    sandbox: Sandbox, media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    image = tmp_path / "portrait.jpg"
    image.write_bytes(media("jpg").read_bytes())
    args = ["animate", "--no-face", str(image), "--prompt", "a person talking to the camera",
            "--text", "hello there", "--voice-id", "genshin_klee2",
            "--upload-to", f"s3://{s3_bucket}", "--listen", "--format", "json"]  # fmt: skip
    result = CliRunner().invoke(main, args, env=cli_env(sandbox, tmp_path))
    assert result.exit_code == 0, result.output
    lines = json_lines(result.output)
    (listening,) = [e for e in lines if e["event"] == "listen"]
    (lip_sync,) = sandbox.tasks(endpoint="lip-sync")
    (image2video,) = sandbox.tasks(endpoint="image2video")
    assert callback_of(sandbox, lip_sync.id) == listening["bind"]
    assert callback_of(sandbox, image2video.id) is None  # image2video is polled
    looks = waits(lines)
    assert {e["via"] for e in looks} == {"callback"}
    assert looks[-1]["status"] == "succeeded"


@pytest.mark.parametrize(
    "args",
    [
        ["resume", "--listen", "0", "--no-wait"],
        ["resume", "--public-url", "https://t.example/"],
        ["resume", "--listen", "0.0.0.0:0"],
        ["animate", "face.jpg", "--prompt", "p", "--public-url", "https://t.example/"],
        ["animate", "face.jpg", "--prompt", "p", "--listen=nope"],
    ],
)
def test_usage_errors_are_exit_2(sandbox: Sandbox, tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(main, args, env=cli_env(sandbox, tmp_path))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_submit_resume_and_animate_share_one_definition_of_the_options() -> None:
    import click

    ctx = click.Context(main)
    commands = [main.get_command(ctx, name) for name in ("submit", "resume", "animate")]
    for flag in ("--listen", "--public-url"):
        found = [
            next(p for p in c.params if isinstance(p, click.Option) and flag in p.opts)
            for c in commands
            if c is not None
        ]
        assert len(found) == 3
        assert len({(o.help, o.metavar, o.flag_value) for o in found}) == 1, flag
