"""`submit --listen`: the callback receiver over real HTTP, against the loopback sandbox.

The sandbox POSTs Kling callbacks and signed WaveSpeed webhooks on every status change, so these
runs end by callback; the fallback poll is 60 s unless a test says otherwise, so a job that ends
in a second or two ended by callback (the events say so too: ``via``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sandbox_support import until

from preflight.cli import main
from preflight.client import KlingClient, WaveSpeedClient
from preflight.model.errors import UsageError
from preflight.sandbox import Sandbox, SandboxConfig
from preflight.submitting import (
    Event,
    KlingProvider,
    Outcome,
    SubmitRequest,
    Submitter,
    WaveSpeedProvider,
)
from preflight.submitting.ledger import JobStatus, Ledger
from preflight.submitting.listen import (
    MAX_BODY,
    POLL_INTERVAL,
    Listener,
    listener_for,
    parse_listen,
)

Media = Callable[[str], Path]
SAY = ["--no-face", "--text", "Hello from the tests", "--voice-id", "genshin_klee2"]
TEXT: dict[str, Any] = {"text": "Hello from the tests", "voice_id": "genshin_klee2", "face": False}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)
    with Sandbox(config) as sb:
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


def sign(secret: str, webhook_id: str, stamp: int, raw: bytes) -> str:
    key = secret.removeprefix("whsec_").encode()
    return (
        "v3," + hmac.new(key, f"{webhook_id}.{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    )


@contextlib.contextmanager
def kling_submitter(
    sandbox: Sandbox, tmp_path: Path, listener: Listener, events: list[Event]
) -> Iterator[Submitter]:
    with KlingClient(
        sandbox.kling_access_key, sandbox.kling_secret_key, base_url=sandbox.url
    ) as client:
        yield Submitter(
            Ledger(tmp_path / "ledger.sqlite3"),
            {"kling": KlingProvider(client)},
            on_event=events.append,
            listener=listener,
        )


# --- end to end: the job ends by callback --------------------------------------------------------


def test_kling_job_ends_by_callback_and_a_rerun_on_another_port_resumes(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    url = sandbox.serve_file(media("ok"))
    out = tmp_path / "out.mp4"
    args = ["submit", url, *SAY, "-o", str(out), "--format", "json", "--listen"]
    started = time.monotonic()
    result = CliRunner().invoke(main, args, env=cli_env(sandbox, tmp_path))
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0
    lines = json_lines(result.output)
    (listening,) = [e for e in lines if e["event"] == "listen"]
    bind = listening["bind"]
    assert bind.startswith("http://127.0.0.1:")
    looks = waits(lines)
    assert looks, "the wait never heard a callback"
    assert {e["via"] for e in looks} == {"callback"}  # no fallback poll was needed
    assert looks[-1]["status"] == "succeeded"
    assert looks[-1]["verified"] is False  # Kling's callbacks are unsigned: confirmed by a query
    assert elapsed < POLL_INTERVAL / 2  # generous: the first fallback poll is 60 s away
    # every status change was delivered to the receiver and answered 200
    deliveries = sandbox.callbacks()
    assert {d["url"] for d in deliveries} == {bind}
    assert {d["http_status"] for d in deliveries} == {200}
    assert "succeed" in {d["status"] for d in deliveries}
    # the receiver's URL is sent, never recorded: the job key stays the command's
    (record,) = Ledger(tmp_path / "cli.sqlite3").jobs()
    assert record.status is JobStatus.DONE
    assert "callback_url" not in record.params
    assert bind.rstrip("/") not in json.dumps(record.to_dict(), default=str)
    again = CliRunner().invoke(main, [*args[:-1], "--listen", "0"], env=cli_env(sandbox, tmp_path))
    assert again.exit_code == 0, again.output
    assert len(sandbox.tasks()) == 1  # resumed: nothing paid twice


def test_wavespeed_job_ends_by_a_verified_webhook(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(media("ok").read_bytes())
    args = ["submit", str(video), *SAY, "--provider", "wavespeed", "--listen", ":0",
            "--format", "json"]  # fmt: skip
    result = CliRunner().invoke(main, args, env=cli_env(sandbox, tmp_path))
    assert result.exit_code == 0, result.output
    looks = waits(json_lines(result.output))
    assert looks[-1] == {**looks[-1], "via": "callback", "verified": True, "status": "succeeded"}
    (delivery,) = sandbox.callbacks()  # WaveSpeed sends the final status only
    assert delivery["http_status"] == 200
    assert sandbox.wavespeed_webhook_secret not in result.output
    assert sandbox.wavespeed_webhook_secret.removeprefix("whsec_") not in result.output


def test_one_receiver_serves_a_batch(sandbox: Sandbox, media: Media, tmp_path: Path) -> None:
    url = sandbox.serve_file(media("ok"))
    jobs = tmp_path / "jobs.jsonl"
    lines = [{"video": url, "text": f"line {i}", "out": f"out{i}.mp4"} for i in range(2)]
    jobs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    args = ["submit", "--jobs", str(jobs), "--no-face", "--voice-id", "genshin_klee2",
            "--listen", "--format", "json"]  # fmt: skip
    result = CliRunner().invoke(main, args, env=cli_env(sandbox, tmp_path))
    assert result.exit_code == 0, result.output
    events = json_lines(result.output)
    assert len([e for e in events if e["event"] == "listen"]) == 1
    ended = {e["task_id"] for e in waits(events) if e["status"] == "succeeded"}
    assert ended == {t.id for t in sandbox.tasks()}
    assert len(ended) == 2
    assert {e["via"] for e in waits(events)} == {"callback"}
    assert (tmp_path / "out0.mp4").exists()
    assert (tmp_path / "out1.mp4").exists()


# --- refusals: the job still ends, by polling ----------------------------------------------------


def test_a_bad_signature_is_refused_and_the_job_ends_by_polling(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(media("ok").read_bytes())
    events: list[Event] = []
    wrong = "whsec_" + "0" * 32
    with (
        WaveSpeedClient(sandbox.wavespeed_api_key, base_url=sandbox.url) as client,
        Listener(secret=wrong, poll_interval=0.5, on_event=events.append) as listener,
    ):
        runner = Submitter(
            Ledger(tmp_path / "ledger.sqlite3"),
            {"wavespeed": WaveSpeedProvider(client)},
            on_event=events.append,
            listener=listener,
        )
        with runner:
            result = runner.run(SubmitRequest(str(video), provider="wavespeed", **TEXT))
        (delivery,) = sandbox.wait_for_callbacks(1)
    assert result.outcome is Outcome.DONE, result.reason
    assert delivery["http_status"] == 401
    assert delivery["attempts"] == 3  # WaveSpeed retried; every try was refused
    assert {d.reason for d in listener.deliveries} == {"bad signature"}
    assert {d.status for d in listener.deliveries} == {401}
    looks = [e for e in events if e.step == "wait" and e.data.get("via")]
    assert looks[-1].data["via"] == "poll"
    assert looks[-1].data["status"] == "succeeded"
    refused = [e for e in events if e.step == "listen" and "refused" in e.message]
    assert refused
    assert wrong not in repr(listener)
    assert all(wrong.removeprefix("whsec_") not in e.message for e in events)


def test_a_forged_kling_success_is_not_believed(
    frozen: Sandbox, media: Media, tmp_path: Path
) -> None:
    url = frozen.serve_file(media("ok"))
    events: list[Event] = []
    with (
        Listener(on_event=events.append) as listener,
        kling_submitter(frozen, tmp_path, listener, events) as runner,
    ):
        results: list[Any] = []
        worker = threading.Thread(
            target=lambda: results.append(
                runner.run(SubmitRequest(url, **TEXT, out=str(tmp_path / "o.mp4")))
            )
        )
        worker.start()
        task_id = _created(frozen, listener)
        forged = {
            "task_id": task_id,
            "task_status": "succeed",
            "task_result": {"videos": [{"id": "x", "url": "http://attacker.invalid/fake.mp4"}]},
        }
        answer = httpx.post(listener.url, json=forged)
        assert answer.status_code == 200  # a hint is taken, not trusted
        until(lambda: any("not believed" in e.message for e in events))
        (record,) = runner.ledger.jobs()
        assert record.status in (JobStatus.SUBMITTED, JobStatus.PROCESSING)
        assert record.result_url is None
        frozen.settle()  # the real task ends; its real callbacks finish the job
        worker.join(timeout=60)
    assert not worker.is_alive()
    (result,) = results
    assert result.outcome is Outcome.DONE, result.reason
    assert result.result_url.startswith(frozen.url)
    done = [e for e in events if e.step == "wait" and e.data.get("via") == "callback"]
    assert done[-1].data["status"] == "succeeded"


def test_no_callback_at_all_still_times_out(frozen: Sandbox, media: Media, tmp_path: Path) -> None:
    url = frozen.serve_file(media("ok"))
    events: list[Event] = []
    with (
        Listener(poll_interval=0.2) as listener,
        kling_submitter(frozen, tmp_path, listener, events) as runner,
    ):
        result = runner.run(SubmitRequest(url, **TEXT, timeout=1.0, out=str(tmp_path / "t.mp4")))
    assert result.outcome is Outcome.TIMED_OUT
    assert sum(1 for e in events if e.data.get("via") == "poll") >= 2


# --- the receiver on its own ---------------------------------------------------------------------


def raw_post(listener: Listener, head: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """One request written by hand (so the length can lie); the status and the JSON answer."""
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def test_oversized_or_unsized_bodies_are_refused_unread() -> None:
    with Listener() as listener:
        huge = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n"
        status, answer = raw_post(listener, huge)  # no body sent: refused on the header alone
        assert status == 413
        assert answer["ok"] is False
        assert raw_post(listener, "POST / HTTP/1.1\r\nHost: x\r\n")[0] == 411
        chunked = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        assert raw_post(listener, chunked, b"0\r\n\r\n")[0] == 411
        assert httpx.post(listener.url, content=b"not json").status_code == 400
        assert httpx.post(listener.url, json={"hello": 1}).status_code == 400
        assert httpx.get(listener.url).status_code == 405
        fits = json.dumps(
            {"task_id": "123456789", "task_status": "processing", "pad": "x" * 900_000}
        )
        assert httpx.post(listener.url, content=fits).status_code == 200  # under 1 MB: taken
    assert [d.status for d in listener.deliveries] == [413, 411, 411, 400, 400, 200]


def test_webhook_signatures_and_timestamps() -> None:
    secret = "whsec_" + uuid.uuid4().hex
    body = json.dumps({"id": "a" * 32, "status": "completed", "outputs": ["http://x/y.mp4"]})
    raw = body.encode()

    def headers(stamp: int, signature: str | None = None) -> dict[str, str]:
        webhook_id = uuid.uuid4().hex
        return {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature or sign(secret, webhook_id, stamp, raw),
        }

    now = int(time.time())
    with Listener(secret=secret) as listener:
        good = headers(now)
        assert httpx.post(listener.url, content=raw, headers=good).status_code == 200
        again = httpx.post(listener.url, content=raw, headers=good)  # a redelivery
        assert again.status_code == 200
        assert "redelivery" in again.json()["detail"]
        stale = httpx.post(listener.url, content=raw, headers=headers(now - 600))
        assert stale.status_code == 401
        assert "stale" in stale.json()["detail"]
        future = httpx.post(listener.url, content=raw, headers=headers(now + 600))
        assert future.status_code == 401
        forged = headers(now, "v3," + "0" * 64)
        assert httpx.post(listener.url, content=raw, headers=forged).status_code == 401
        tampered = httpx.post(listener.url, content=raw + b" ", headers=headers(now))
        assert tampered.status_code == 401  # one byte more than was signed
        changed = headers(now)
        other = body.replace("completed", "failed").encode()
        assert httpx.post(listener.url, content=other, headers=changed).status_code == 401
        unsigned = httpx.post(listener.url, content=raw)  # WaveSpeed always signs
        assert unsigned.status_code == 401
        note = listener.next_note("a" * 32, 0, 0)
        assert note is not None
        assert note.verified
    with Listener() as no_secret:  # without the secret nothing signed is believed
        assert httpx.post(no_secret.url, content=raw, headers=headers(now)).status_code == 401
    with pytest.raises(Exception, match="empty"):
        Listener(secret="whsec_")


def test_listen_values() -> None:
    assert parse_listen("8765") == ("127.0.0.1", 8765)
    assert parse_listen(":8765") == ("127.0.0.1", 8765)
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    for bad in ("clip.mp4", "host:", "99999", "1.2.3.4:x"):
        with pytest.raises(UsageError):
            parse_listen(bad)
    with pytest.raises(UsageError, match="public-url"):
        Listener("0.0.0.0", 0)
    with Listener(public_url="https://tunnel.example/hook/s3cr3t") as behind:
        assert behind.url == "https://tunnel.example/hook/s3cr3t"
        assert "s3cr3t" not in repr(behind)


def test_a_wavespeed_job_without_the_secret_is_told_so() -> None:
    events: list[Event] = []
    listener_for(":0", providers=("wavespeed",), environ={}, on_event=events.append)
    (told,) = events
    assert "WAVESPEED_WEBHOOK_SECRET is not set" in told.message
    quiet: list[Event] = []
    secret = {"WAVESPEED_WEBHOOK_SECRET": "whsec_" + uuid.uuid4().hex}
    listener_for(":0", providers=("wavespeed",), environ=secret, on_event=quiet.append)
    listener_for(":0", providers=("kling",), environ={}, on_event=quiet.append)
    assert quiet == []


def test_usage_errors_are_exit_2(sandbox: Sandbox, tmp_path: Path) -> None:
    env = cli_env(sandbox, tmp_path)
    base = ["submit", "https://example.invalid/v.mp4", *SAY]
    cases = [
        ["--public-url", "https://t.example/"],
        ["--listen", "0", "--callback-url", "https://t.example/"],
        ["--listen", "0", "--no-wait"],
        ["--listen", "0.0.0.0:0"],
        ["--listen", "0", "--public-url", "ftp://t.example/"],
        ["--listen=nope"],
    ]
    for extra in cases:
        result = CliRunner().invoke(main, [*base, *extra], env=env)
        assert result.exit_code == 2, (extra, result.output)
        assert "Traceback" not in result.output
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        taken = CliRunner().invoke(main, [*base, "--listen", str(busy.getsockname()[1])], env=env)
    finally:
        busy.close()
    assert taken.exit_code == 2, taken.output
    assert "cannot listen" in taken.output
    assert sandbox.tasks() == []


def test_ctrl_c_stops_the_receiver_and_frees_the_port(
    frozen: Sandbox, media: Media, tmp_path: Path
) -> None:
    url = frozen.serve_file(media("ok"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, **cli_env(frozen, tmp_path)}
    args = [sys.executable, "-m", "preflight", "submit", url, *SAY, "--listen", str(port),
            "-o", str(tmp_path / "o.mp4")]  # fmt: skip
    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        until(lambda: len(frozen.tasks()) == 1, timeout=60)  # created: now waiting
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the receiver is up
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130, err.decode()
    assert b"Traceback" not in err
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=2),
    ):
        pass  # nothing listens any more


# --- helpers -------------------------------------------------------------------------------------


def _created(sandbox: Sandbox, listener: Listener) -> str:
    """The id of the one task the job created, once the create step told the listener."""
    until(lambda: len(sandbox.tasks()) == 1 and listener.expects(sandbox.tasks()[0].id))
    return sandbox.tasks()[0].id
