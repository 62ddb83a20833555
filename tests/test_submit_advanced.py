"""`preflight submit --advanced`: identify-face, one face, the sound window, then the paid create,
against the loopback sandbox over real HTTP (real FFmpeg, real face detection, real SQLite)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.cli.demo import SandboxHost
from preflight.client import KlingClient
from preflight.sandbox import Sandbox, SandboxConfig
from preflight.submitting import Event, KlingProvider, Outcome, SubmitRequest, Submitter
from preflight.submitting.faces import (
    AdvancedLipSync,
    FaceSpan,
    SoundWindow,
    pick_face,
    plan_window,
    window_problem,
)
from preflight.submitting.ledger import JobStatus, Ledger

Media = Callable[[str], Path]
ADVANCED = "advanced-lip-sync"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)) as sb:
        yield sb


class Sent:
    """Every request the client sent (method and path), recorded by an httpx event hook."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append((request.method, request.url.path))

    def creates(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r == ("POST", f"/v1/videos/{ADVANCED}")]


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture
def runner(sandbox: Sandbox, tmp_path: Path, sent: Sent) -> Iterator[Submitter]:
    http = httpx.Client(event_hooks={"request": [sent]}, trust_env=False)
    client = KlingClient(
        sandbox.kling_access_key, sandbox.kling_secret_key, base_url=sandbox.url, http_client=http
    )
    events: list[Event] = []
    submitter = Submitter(
        Ledger(tmp_path / "ledger.sqlite3"),
        {"kling": KlingProvider(client)},
        fallback_host=SandboxHost(sandbox),
        on_event=events.append,
    )
    submitter.events = events  # type: ignore[attr-defined]
    yield submitter
    client.close()
    http.close()


def request(video: Path, audio: Path, out: Path, **choice: Any) -> SubmitRequest:
    return SubmitRequest(
        video=str(video),
        audio=str(audio),
        face=False,  # the profile's face rules have their own tests; here identify-face finds them
        out=str(out),
        advanced=AdvancedLipSync(**choice),
    )


def face_event(submitter: Submitter) -> dict[str, Any]:
    (event,) = [e for e in submitter.events if e.step == "face" and e.state != "start"]  # type: ignore[attr-defined]
    return event.to_dict()


def advanced_tasks(sandbox: Sandbox) -> list[Any]:
    return sandbox.tasks(endpoint=ADVANCED)


# --- the choices, as pure functions ------------------------------------------------------------
FACES = (FaceSpan("a", 3000, 6000), FaceSpan("b", 0, 6000), FaceSpan("c", 0, 6000))


@pytest.mark.parametrize(
    ("choice", "face", "why"),
    [
        (AdvancedLipSync(), "b", "on screen longest"),  # longest; of two equal, the first
        (AdvancedLipSync(face_index=0), "a", "--face-index 0"),
        (AdvancedLipSync(face_id="c"), "c", "--face-id c"),
    ],
)
def test_pick_face(choice: AdvancedLipSync, face: str, why: str) -> None:
    assert pick_face(FACES, choice)[0].face_id == face
    assert pick_face(FACES, choice)[1] == why


@pytest.mark.parametrize(
    ("choice", "audio_ms", "window"),
    [
        (AdvancedLipSync(), 4000, SoundWindow(0, 4000, 2000)),  # moved earlier to fit the video
        (AdvancedLipSync(), 2500, SoundWindow(0, 2500, 3000)),  # at the face's start
        (AdvancedLipSync(), 9000, SoundWindow(0, 6000, 0)),  # cut at the video's length
        (AdvancedLipSync(sound_start=500, sound_insert=3500), 4000, SoundWindow(500, 3000, 3500)),
    ],
)
def test_default_window(choice: AdvancedLipSync, audio_ms: int, window: SoundWindow) -> None:
    planned = plan_window(choice, FACES[0], audio_ms=audio_ms, video_ms=6000)
    assert planned == window
    assert window_problem(planned, FACES[0], audio_ms=audio_ms, video_ms=6000) is None


@pytest.mark.parametrize(
    ("window", "words"),
    [
        (SoundWindow(0, 4000, 0), "overlaps face a, on screen 3.0-6.0 s, by 1.0 s"),
        (SoundWindow(0, 4000, 3000), "past the end of the 6.0 s video"),
        (SoundWindow(0, 1500, 4000), "is 1.5 s; it must overlap face a (3.0-6.0 s)"),
        (SoundWindow(0, 5000, 0), "the audio is 4.0 s long"),
    ],
)
def test_bad_windows_name_the_face_span(window: SoundWindow, words: str) -> None:
    problem = window_problem(window, FACES[0], audio_ms=4000, video_ms=6000)
    assert problem is not None
    assert words in problem


def test_an_out_of_range_index_lists_the_faces() -> None:
    from preflight.model.errors import UsageError

    with pytest.raises(UsageError, match=r"--face-index 3 is out of range.*3 faces.*0-2"):
        pick_face(FACES, AdvancedLipSync(face_index=3))
    with pytest.raises(UsageError, match=r"'z' is not a face of this video.*a \(3.0-6.0 s\)"):
        pick_face(FACES, AdvancedLipSync(face_id="z"))


# --- against the sandbox -----------------------------------------------------------------------
def test_one_face_end_to_end_then_a_rerun_pays_nothing(
    sandbox: Sandbox, runner: Submitter, face_media: Media, media: Media, tmp_path: Path, sent: Sent
) -> None:
    job = request(
        face_media("clear"),
        media("mp3"),
        tmp_path / "one.mp4",
        sound_volume=1.5,
        original_audio_volume=0.25,
    )
    result = runner.run(job)
    assert result.outcome is Outcome.DONE, result.reason
    (task,) = advanced_tasks(sandbox)
    assert task.params["face_id"] == "0"
    assert (task.params["sound_volume"], task.params["original_audio_volume"]) == (1.5, 0.25)
    # the whole 4 s audio, at the face's start (the face is there for the whole 4 s clip)
    assert (task.params["sound_start_time"], task.params["sound_end_time"]) == (0, 4000)
    assert task.params["sound_insert_time"] == 0
    event = face_event(runner)
    assert [f["face_id"] for f in event["faces"]] == ["0"]
    assert event["chosen"]["end_time"] == 4000
    record = runner.ledger.get(result.job_id or "")
    assert record.endpoint == ADVANCED  # how `status` and `resume` know the task's kind
    assert record.params["advanced"] is True
    assert record.options["advanced_face"]["face_id"] == "0"
    assert (tmp_path / "one.mp4").stat().st_size > 0

    again = runner.run(job)
    assert again.outcome is Outcome.DONE
    assert again.resumed
    assert len(advanced_tasks(sandbox)) == 1
    assert len(sent.creates()) == 1


def test_two_faces_default_then_face_index_1_then_face_id(
    sandbox: Sandbox, runner: Submitter, face_media: Media, media: Media, tmp_path: Path
) -> None:
    video, audio = face_media("two"), media("mp3")
    first = runner.run(request(video, audio, tmp_path / "default.mp4"))
    assert first.outcome is Outcome.DONE, first.reason
    event = face_event(runner)
    faces = event["faces"]
    assert len(faces) == 2  # the sandbox found both people
    # identify-face's order is left to right; both are on screen the whole clip: the first wins
    assert faces[0]["start_time"] == faces[1]["start_time"] == 0
    assert faces[0]["end_time"] == faces[1]["end_time"] == 4000
    assert event["chosen"]["face_id"] == "0"
    assert all(httpx.get(f["face_image"]).content[:3] == b"\xff\xd8\xff" for f in faces)

    second = runner.run(request(video, audio, tmp_path / "index1.mp4", face_index=1))
    assert second.outcome is Outcome.DONE, second.reason
    assert second.job_id != first.job_id  # the face choice is part of the job's key
    third = runner.run(request(video, audio, tmp_path / "id1.mp4", face_id="1"))
    assert third.outcome is Outcome.DONE, third.reason
    tasks = sorted(advanced_tasks(sandbox), key=lambda t: t.created_at)
    assert [t.params["face_id"] for t in tasks] == ["0", "1", "1"]


def test_the_default_is_the_face_on_screen_longest(
    sandbox: Sandbox, runner: Submitter, face_media: Media, media: Media, tmp_path: Path
) -> None:
    result = runner.run(request(face_media("two_late"), media("mp3"), tmp_path / "late.mp4"))
    assert result.outcome is Outcome.DONE, result.reason
    event = face_event(runner)
    left, right = event["faces"]
    assert 3000 <= left["start_time"] <= 3500  # the left face appears at 3 s
    assert (right["start_time"], right["end_time"]) == (0, 6000)
    assert event["chosen"]["face_id"] == right["face_id"] == "1"
    (task,) = advanced_tasks(sandbox)
    assert task.params["face_id"] == "1"


def test_a_bad_window_is_rejected_before_any_create(
    sandbox: Sandbox, runner: Submitter, face_media: Media, media: Media, tmp_path: Path, sent: Sent
) -> None:
    job = request(
        face_media("two_late"), media("mp3"), tmp_path / "bad.mp4", face_index=0, sound_insert=0
    )
    result = runner.run(job)
    assert result.outcome is Outcome.REJECTED
    assert result.exit_code == 1
    assert "overlaps face 0, on screen" in (result.reason or "")
    assert "it must overlap by at least 2 s" in (result.reason or "")
    assert ("POST", "/v1/videos/identify-face") in sent.requests
    assert sent.creates() == []  # nothing paid: the create never left this process
    assert advanced_tasks(sandbox) == []
    assert runner.ledger.get(result.job_id or "").status is JobStatus.REJECTED


# --- the command line --------------------------------------------------------------------------
def cli_env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    return {**sandbox.environment(), "PREFLIGHT_LEDGER": str(tmp_path / "cli.sqlite3")}


def test_cli_json_shows_the_faces_and_the_choice_and_status_knows_the_kind(
    sandbox: Sandbox, face_media: Media, media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    env = cli_env(sandbox, tmp_path)
    args = ["submit", str(face_media("two")), "--advanced", "--audio", str(media("mp3")),
            "--face-index", "1", "--no-face", "--upload-to", f"s3://{s3_bucket}/in",
            "-o", str(tmp_path / "cli.mp4"), "--no-wait", "-f", "json"]  # fmt: skip
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    (faces,) = [e for e in lines if e["event"] == "face" and e["state"] == "done"]
    assert [f["face_id"] for f in faces["faces"]] == ["0", "1"]
    assert faces["chosen"]["face_id"] == "1"
    assert faces["window"] == {
        "sound_start_time": 0, "sound_end_time": 4000, "sound_insert_time": 0,
    }  # fmt: skip
    task_id = lines[-1]["task_id"]
    status = CliRunner().invoke(main, ["status", task_id, "-f", "json"], env=env)
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["kind"] == ADVANCED
    resumed = CliRunner().invoke(main, ["resume", lines[-1]["job_id"]], env=env)
    assert resumed.exit_code == 0, resumed.output
    assert (tmp_path / "cli.mp4").stat().st_size > 0
    assert len(advanced_tasks(sandbox)) == 1


def test_cli_bad_window_is_exit_1_naming_the_span(
    sandbox: Sandbox, face_media: Media, media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    args = ["submit", str(face_media("two_late")), "--advanced", "--audio", str(media("mp3")),
            "--face-index", "0", "--sound-insert", "0", "--no-face",
            "--upload-to", f"s3://{s3_bucket}/in", "-o", str(tmp_path / "x.mp4")]  # fmt: skip
    result = CliRunner().invoke(main, args, env=cli_env(sandbox, tmp_path))
    assert result.exit_code == 1, result.output
    assert "face 0, on screen" in result.output
    assert advanced_tasks(sandbox) == []


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--face-index", "5"], "--face-index 5 is out of range"),
        (["--face-id", "7"], "--face-id '7' is not a face of this video"),
    ],
)
def test_cli_unknown_faces_are_usage_errors(
    sandbox: Sandbox,
    face_media: Media,
    media: Media,
    tmp_path: Path,
    s3_bucket: str,
    extra: list[str],
    words: str,
) -> None:
    args = ["submit", str(face_media("two")), "--advanced", "--audio", str(media("mp3")),
            "--no-face", "--upload-to", f"s3://{s3_bucket}/in", *extra]  # fmt: skip
    result = CliRunner().invoke(main, args, env=cli_env(sandbox, tmp_path))
    assert result.exit_code == 2, result.output
    assert result.output.count(words) == 1  # said once, by the usage error (not by the step too)
    assert "identify-face found 2 faces" in result.output or "found: 0 (0.0-4.0 s)" in result.output
    assert advanced_tasks(sandbox) == []


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--text", "hi", "--voice-id", "genshin_klee2"], "give --audio AUDIO, not --text"),
        (["--audio", "{mp3}", "--provider", "wavespeed"], "wavespeed does not offer it"),
        (["--audio", "{mp3}", "--face-index", "0", "--face-id", "1"], "not both"),
        (["--audio", "{mp3}", "--sound-volume", "3"], "--sound-volume must be between 0 and 2"),
        (["--audio", "{mp3}", "--jobs", "jobs.jsonl"], "--advanced runs one job"),
        (["--audio", "{mp3}", "--sound-start", "900", "--sound-end", "800"], "must be after"),
    ],
)
def test_cli_advanced_usage_errors(
    sandbox: Sandbox, face_media: Media, media: Media, tmp_path: Path, extra: list[str], words: str
) -> None:
    extra = [str(media("mp3")) if a == "{mp3}" else a for a in extra]
    args = ["submit", str(face_media("two")), "--advanced", *extra]
    result = CliRunner().invoke(main, args, env=cli_env(sandbox, tmp_path))
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert not (tmp_path / "cli.sqlite3").exists() or not Ledger(tmp_path / "cli.sqlite3").jobs()


def test_cli_face_options_need_advanced(
    sandbox: Sandbox, face_media: Media, media: Media, tmp_path: Path
) -> None:
    args = ["submit", str(face_media("two")), "--audio", str(media("mp3")), "--face-index", "1"]
    result = CliRunner().invoke(main, args, env=cli_env(sandbox, tmp_path))
    assert result.exit_code == 2, result.output
    assert "--face-index goes with --advanced" in result.output


def test_killed_after_the_create_then_rerun_finds_the_task(
    sandbox: Sandbox, face_media: Media, media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    video = tmp_path / "two.mp4"
    video.write_bytes(face_media("two").read_bytes())
    out = tmp_path / "crash.mp4"
    argv = [sys.executable, "-m", "preflight", "submit", str(video), "--advanced",
            "--audio", str(media("mp3")), "--face-index", "1", "--no-face",
            "--upload-to", f"s3://{s3_bucket}/in", "-o", str(out), "--timeout", "60"]  # fmt: skip
    env = {**os.environ, **cli_env(sandbox, tmp_path)}
    env.pop("PREFLIGHT_CRASH_AT", None)
    crashed = subprocess.run(
        argv, env={**env, "PREFLIGHT_CRASH_AT": "after-create"}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    (record,) = Ledger(tmp_path / "cli.sqlite3").jobs()
    assert record.status is JobStatus.CREATING
    assert len(advanced_tasks(sandbox)) == 1

    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "found task" in again.stderr
    (task,) = advanced_tasks(sandbox)  # found, not created again
    (record,) = Ledger(tmp_path / "cli.sqlite3").jobs()
    assert record.status is JobStatus.DONE
    assert record.task_id == task.id
    assert out.stat().st_size > 0
