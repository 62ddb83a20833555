"""`preflight submit` end to end against the loopback sandbox: real HTTP, real FFmpeg, real SQLite,
a real S3-compatible server for hosted media."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.cli.demo import SandboxHost
from preflight.cli.submit_cmd import Display
from preflight.client import KlingClient, WaveSpeedClient
from preflight.model.errors import ConfigError
from preflight.probing import probe
from preflight.sandbox import Sandbox, SandboxConfig
from preflight.submitting import (
    Event,
    JobResult,
    KlingProvider,
    Outcome,
    SubmitRequest,
    Submitter,
    submit,
)
from preflight.submitting.ledger import JobStatus, Ledger

Media = Callable[[str], Path]
TEXT = {"text": "Hello from the tests", "voice_id": "genshin_klee2", "face": False}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)) as sb:
        yield sb


@pytest.fixture
def kling(sandbox: Sandbox) -> Iterator[KlingClient]:
    with KlingClient(
        sandbox.kling_access_key, sandbox.kling_secret_key, base_url=sandbox.url
    ) as client:
        yield client


def submitter(
    sandbox: Sandbox, kling: KlingClient, tmp_path: Path, events: list[Event] | None = None
) -> Submitter:
    return Submitter(
        Ledger(tmp_path / "ledger.sqlite3"),
        {"kling": KlingProvider(kling)},
        fallback_host=SandboxHost(sandbox),
        on_event=events.append if events is not None else None,
    )


def copy(media: Media, name: str, tmp_path: Path) -> Path:
    source = media(name)
    target = tmp_path / source.name
    target.write_bytes(source.read_bytes())
    return target


def assert_video(path: Path) -> None:
    facts = probe(path)
    assert facts.container in ("mp4", "mov")
    assert facts.video is not None
    assert not list(path.parent.glob(f".{path.name}*"))  # no part file left beside it


def cli_env(sandbox: Sandbox, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**sandbox.environment(), "PREFLIGHT_LEDGER": str(tmp_path / "cli.sqlite3"), **extra}


def test_text_job_end_to_end_then_rerun_resumes(
    sandbox: Sandbox, kling: KlingClient, face_media: Media, tmp_path: Path
) -> None:
    video = copy(face_media, "clear", tmp_path)  # a real face: the face checks run and pass
    before = video.read_bytes()
    events: list[Event] = []
    runner = submitter(sandbox, kling, tmp_path, events)
    faces = {**TEXT, "face": True}
    result = runner.run(SubmitRequest(str(video), **faces))
    assert result.outcome is Outcome.DONE, result.reason
    assert result.output == video.with_name("face_clear.lipsync.mp4")
    assert_video(result.output)
    steps = [(e.step, e.state) for e in events if e.state != "progress"]
    for step in ("check", "host", "create", "wait", "download"):
        assert (step, "done") in steps
    tasks = sandbox.tasks()
    assert len(tasks) == 1
    assert tasks[0].params["text"] == TEXT["text"]
    assert tasks[0].params["voice_language"] == "en"
    assert video.read_bytes() == before  # the input is never touched

    again = runner.run(SubmitRequest(str(video), **faces))
    assert again.outcome is Outcome.DONE
    assert again.resumed
    assert again.task_id == result.task_id
    assert len(sandbox.tasks()) == 1
    record = runner.ledger.get(result.job_id or "")
    assert record.status is JobStatus.DONE
    assert record.result_path == str(result.output)

    # --new forces a second job (and a second task)
    third = runner.run(SubmitRequest(str(video), **faces, new=True, out=str(tmp_path / "3.mp4")))
    assert third.outcome is Outcome.DONE
    assert third.job_id != result.job_id
    assert len(sandbox.tasks()) == 2


def test_audio_job_sends_the_local_file_as_base64(
    sandbox: Sandbox, kling: KlingClient, media: Media, tmp_path: Path
) -> None:
    video = copy(media, "ok", tmp_path)
    audio = media("mp3")
    result = submitter(sandbox, kling, tmp_path).run(
        SubmitRequest(str(video), audio=str(audio), out=str(tmp_path / "out" / "a.mp4"), face=False)
    )
    assert result.outcome is Outcome.DONE, result.reason
    assert_video(tmp_path / "out" / "a.mp4")
    (task,) = sandbox.tasks()
    assert task.params["mode"] == "audio2video"
    assert task.params["audio_type"] == "file"
    sent = task.params.get("audio_file")
    if isinstance(sent, str) and len(sent) > 64:  # the sandbox may echo a digest instead
        assert base64.b64decode(sent) == audio.read_bytes()


def test_video_hosted_on_s3(
    sandbox: Sandbox,
    kling: KlingClient,
    media: Media,
    tmp_path: Path,
    s3_bucket: str,
    moto_s3_url: str,
) -> None:
    video = copy(media, "ok_mov", tmp_path)
    ledger = Ledger(tmp_path / "l.sqlite3")
    result = submit(
        video, **TEXT, upload_to=f"s3://{s3_bucket}/in", ledger=ledger, client=kling,
    )  # fmt: skip
    assert result.outcome is Outcome.DONE, result.reason
    assert_video(video.with_name("ok.lipsync.mp4"))
    (task,) = sandbox.tasks()
    assert task.params["video_url"].startswith(f"{moto_s3_url}/{s3_bucket}/in/")
    assert "X-Amz-Signature" in task.params["video_url"]
    # the ledger keeps the URL for resuming, listings never show its signature
    record = ledger.get(result.job_id or "")
    assert "X-Amz-Signature" in record.urls["video"]
    assert "X-Amz-Signature" not in json.dumps(record.to_dict())


def test_wavespeed_job_uploads_local_media(sandbox: Sandbox, media: Media, tmp_path: Path) -> None:
    video = copy(media, "ok", tmp_path)
    audio = media("m4a")
    with WaveSpeedClient(sandbox.wavespeed_api_key, base_url=sandbox.url) as client:
        result = submit(
            video, audio=audio, provider="wavespeed", client=client,
            ledger=tmp_path / "l.sqlite3", out=tmp_path / "ws.mp4", face=False,
        )  # fmt: skip
    assert result.outcome is Outcome.DONE, result.reason
    assert_video(tmp_path / "ws.mp4")
    (task,) = sandbox.tasks()
    assert task.provider == "wavespeed"
    assert task.endpoint.endswith("audio-to-video")
    assert task.params["video"].startswith(sandbox.url)
    assert task.params["audio"].startswith(sandbox.url)


def test_the_provider_rejecting_the_task_is_exit_1_with_its_reason(
    sandbox: Sandbox, media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    sandbox.set_faults(fail_every=1, fail_message="there is no human in the video")
    video = copy(media, "ok", tmp_path)
    out = tmp_path / "never.mp4"
    args = ["submit", "--no-face", str(video), "--text", "hi", "--voice-id", "genshin_klee2",
            "--upload-to", f"s3://{s3_bucket}", "-o", str(out)]  # fmt: skip
    result = CliRunner().invoke(main, args, env=cli_env(sandbox, tmp_path))
    assert result.exit_code == 1, result.output
    assert "there is no human in the video" in result.output
    assert not out.exists()
    assert Ledger(tmp_path / "cli.sqlite3").jobs(["failed"])
    again = CliRunner().invoke(main, args, env=cli_env(sandbox, tmp_path))
    assert again.exit_code == 1
    assert "--new" in again.output
    assert len(sandbox.tasks()) == 1  # a failed job is not paid for again by accident


def test_a_failing_input_with_no_fix_is_exit_1_and_creates_nothing(
    sandbox: Sandbox, media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    result = CliRunner().invoke(
        main,
        ["submit", "--no-face", str(media("small")), "--no-fix", "--text", "hi", "--voice-id",
         "genshin_klee2", "--upload-to", f"s3://{s3_bucket}", "--format", "json",
         "-o", str(tmp_path / "x.mp4")],
        env=cli_env(sandbox, tmp_path),
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines[-1]["event"] == "result"
    assert lines[-1]["outcome"] == "rejected"
    assert any(f["rule"] == "video.width" for f in lines[-1]["findings"])
    assert {line["event"] for line in lines} >= {"job", "check", "result"}
    assert sandbox.tasks() == []


def test_usage_errors_are_exit_2(sandbox: Sandbox, media: Media, tmp_path: Path) -> None:
    runner = CliRunner()
    env = cli_env(sandbox, tmp_path)
    video = str(media("ok"))
    local = runner.invoke(main, ["submit", video, "--text", "hi", "--voice-id", "x"], env=env)
    assert local.exit_code == 2
    assert "--upload-to" in local.output
    both = runner.invoke(
        main, ["submit", video, "--text", "hi", "--voice-id", "x", "--audio", video], env=env
    )
    assert both.exit_code == 2
    assert "not both" in both.output
    no_voice = runner.invoke(main, ["submit", video, "--text", "hi"], env=env)
    assert no_voice.exit_code == 2
    bad_s3 = runner.invoke(
        main, ["submit", video, "--audio", video, "--upload-to", "http://x"], env=env
    )
    assert bad_s3.exit_code == 2
    with pytest.raises(ConfigError, match="no such file"):
        submit(tmp_path / "missing.mp4", **TEXT, ledger=tmp_path / "l.db", upload_to="s3://b")
    assert sandbox.tasks() == []


def test_gave_up_waiting_is_exit_3_and_resume_finishes(
    media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    frozen = SandboxConfig(clock_scale=0.0)  # tasks move only when the test says so
    with Sandbox(frozen) as sandbox:
        env = cli_env(sandbox, tmp_path)
        video = copy(media, "ok", tmp_path)
        runner = CliRunner()
        args = ["submit", "--no-face", str(video), "--text", "hi", "--voice-id", "genshin_klee2",
                "--upload-to", f"s3://{s3_bucket}", "--timeout", "0.5"]  # fmt: skip
        first = runner.invoke(main, args, env=env)
        assert first.exit_code == 3, first.output
        record = Ledger(tmp_path / "cli.sqlite3").jobs()[0]
        assert f"preflight resume {record.job_id}" in first.output
        assert record.task_id is not None
        assert record.status in (JobStatus.SUBMITTED, JobStatus.PROCESSING)

        listing = runner.invoke(main, ["jobs", "--status", "unfinished"], env=env)
        assert record.job_id in listing.output

        sandbox.settle()
        resumed = runner.invoke(main, ["resume"], env=env)  # every unfinished job
        assert resumed.exit_code == 0, resumed.output
        assert_video(video.with_name("ok 720p.lipsync.mp4"))
        assert len(sandbox.tasks()) == 1
        done = runner.invoke(main, ["jobs", "--status", "done", "--format", "json"], env=env)
        assert json.loads(done.output)[0]["job_id"] == record.job_id


def test_no_wait_leaves_the_task_running(
    sandbox: Sandbox, kling: KlingClient, media: Media, tmp_path: Path
) -> None:
    video = copy(media, "ok", tmp_path)
    runner = submitter(sandbox, kling, tmp_path)
    started = runner.run(SubmitRequest(str(video), **TEXT, wait=False))
    assert started.outcome is Outcome.SUBMITTED
    assert started.exit_code == 0
    assert started.output is None
    finished = runner.resume(started.job_id or "")
    assert finished.outcome is Outcome.DONE
    assert finished.task_id == started.task_id
    assert len(sandbox.tasks()) == 1


def _events(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_a_job_needing_a_fix_is_fixed_then_sent(
    sandbox: Sandbox, kling: KlingClient, media: Media, tmp_path: Path
) -> None:
    video = copy(media, "mkv", tmp_path)  # H.264 in Matroska: a remux makes it an mp4
    before = video.read_bytes()
    events: list[Event] = []
    runner = submitter(sandbox, kling, tmp_path, events)
    result = runner.run(SubmitRequest(str(video), **TEXT))
    assert result.outcome is Outcome.DONE, result.reason
    assert ("fix", "done") in [(e.step, e.state) for e in events]
    record = runner.ledger.get(result.job_id or "")
    fixed = Path(record.fixed["video"])
    assert probe(fixed).container == "mp4"
    assert fixed.parent != video.parent  # fixed files live in the work dir, not beside the input
    assert video.read_bytes() == before
    assert_video(video.with_name("h264.lipsync.mp4"))
    (task,) = sandbox.tasks()
    assert task.params["video_url"].endswith(".mp4")


def test_a_video_by_url(sandbox: Sandbox, kling: KlingClient, media: Media, tmp_path: Path) -> None:
    url = sandbox.serve_file(media("ok"))
    result = submit(url, **TEXT, client=kling, ledger=tmp_path / "l.db", out=tmp_path / "u.mp4")
    assert result.outcome is Outcome.DONE, result.reason
    assert_video(tmp_path / "u.mp4")
    (task,) = sandbox.tasks()
    assert task.params["video_url"] == url  # sent as given, nothing uploaded


def test_animate_makes_a_talking_video_from_an_image(
    sandbox: Sandbox, media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    image = copy(media, "jpg", tmp_path)
    env = cli_env(sandbox, tmp_path)
    args = ["animate", "--no-face", str(image), "--prompt", "a person talking to the camera",
            "--text", "hello there", "--voice-id", "genshin_klee2",
            "--upload-to", f"s3://{s3_bucket}"]  # fmt: skip
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    out = image.with_name("portrait.lipsync.mp4")
    assert_video(out)
    kinds = [t.endpoint for t in sandbox.tasks()]
    assert kinds == ["image2video", "lip-sync"]
    (i2v,) = sandbox.tasks(endpoint="image2video")
    assert i2v.params["prompt"] == "a person talking to the camera"
    # the same command again finds both jobs done: nothing new is paid for
    again = CliRunner().invoke(main, args, env=env)
    assert again.exit_code == 0, again.output
    assert len(sandbox.tasks()) == 2

    small = CliRunner().invoke(
        main, ["animate", "--no-face", str(media("png_small")), "--prompt", "p", "--audio",
               str(media("mp3")), "--upload-to", f"s3://{s3_bucket}"], env=env,
    )  # fmt: skip
    assert small.exit_code == 1, small.output
    assert "image.dimensions" in small.output
    assert len(sandbox.tasks()) == 2


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_terminal_display_keeps_one_live_line() -> None:
    err, out = _Terminal(), io.StringIO()
    display = Display("text", out=out, err=err)
    display.event(Event("wait", "start", "waiting for task 1", "j1"))
    display.event(Event("wait", "progress", "task 1: processing", "j1"))
    display.event(Event("download", "done", "downloaded 10 bytes", "j1"))
    display.result(JobResult("clip.mp4", Outcome.DONE, job_id="j1", output=Path("/o/clip.mp4")))
    shown = err.getvalue()
    assert "\r\x1b[2K" in shown  # the live line is redrawn in place ...
    assert "task 1: processing" in shown
    assert "download: downloaded 10 bytes" in shown  # ... and finished steps stay as lines
    assert out.getvalue() == "/o/clip.mp4\n"

    plain = io.StringIO()
    quiet = Display("text", out=io.StringIO(), err=plain)
    quiet.event(Event("wait", "progress", "task 1: processing", "j1"))
    assert plain.getvalue() == ""  # no live line when stderr is not a terminal

    lines = io.StringIO()
    as_json = Display("json", out=lines, err=io.StringIO())
    as_json.event(Event("create", "done", "task 1 created", "j1", {"task_id": "1"}))
    as_json.result(JobResult("clip.mp4", Outcome.TIMED_OUT, job_id="j1", task_id="1"))
    first, last = (json.loads(line) for line in lines.getvalue().splitlines())
    assert first == {"event": "create", "state": "done", "job_id": "j1",
                     "message": "task 1 created", "task_id": "1"}  # fmt: skip
    assert last["event"] == "result"
    assert last["outcome"] == "timed_out"


def test_a_clip_with_no_face_is_rejected_before_anything_is_paid(
    sandbox: Sandbox, kling: KlingClient, media: Media, tmp_path: Path
) -> None:
    video = copy(media, "ok", tmp_path)  # a test pattern: no person in it
    result = submitter(sandbox, kling, tmp_path).run(
        SubmitRequest(str(video), **{**TEXT, "face": True})
    )
    assert result.outcome is Outcome.REJECTED
    assert result.exit_code == 1
    assert "face.present" in (result.reason or "")
    assert sandbox.tasks() == []
