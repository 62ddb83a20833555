"""The job state table and the provider registry: tables in, verdicts out (no FFmpeg, no HTTP)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.cli.submit_cmd import submit as submit_command
from preflight.cli.tasks_cmd import status_command, tasks_command
from preflight.client import FalClient, KlingClient, WaveSpeedClient
from preflight.model.errors import ConfigError, ProviderMismatchError
from preflight.model.speech import Speech
from preflight.submitting import KlingProvider, Submitter
from preflight.submitting.ledger import Ledger, job_key
from preflight.submitting.model import SubmitRequest
from preflight.submitting.registry import (
    PROVIDERS,
    REGISTRY,
    entry,
    entry_for_client,
    providers_for_task_id,
)
from preflight.submitting.states import (
    TERMINAL,
    TRANSITIONS,
    IllegalTransitionError,
    JobStatus,
    check_transition,
)

S = JobStatus

LEGAL = [
    (S.PENDING, S.CHECKED),
    (S.PENDING, S.BLOCKED),
    (S.BLOCKED, S.CHECKED),  # resumed with the action taken
    (S.CHECKED, S.HOSTED),
    (S.FIXED, S.FIXED),  # the next fixed file
    (S.HOSTED, S.CREATING),
    (S.CREATING, S.HOSTED),  # a 429 that started nothing
    (S.CREATING, S.CHECKED),  # a reconcile that found nothing: judged again
    (S.CREATING, S.SUBMITTED),
    (S.SUBMITTED, S.PROCESSING),
    (S.PROCESSING, S.SUCCEEDED),
    (S.SUCCEEDED, S.DONE),
    (S.DONE, S.SUCCEEDED),  # the downloaded file went away
    (S.REJECTED, S.CHECKED),  # the same command again judges it afresh
    (S.SUBMITTED, S.CANCELLED),
    (S.BLOCKED, S.CANCELLED),
]
ILLEGAL = [
    (S.PENDING, S.CREATING),  # never paid for before it is checked and hosted
    (S.CHECKED, S.CREATING),
    (S.BLOCKED, S.CREATING),
    (S.SUBMITTED, S.CREATING),  # a task exists: never created twice
    (S.PROCESSING, S.HOSTED),
    (S.FAILED, S.CHECKED),
    (S.CANCELLED, S.CHECKED),
    (S.DONE, S.CANCELLED),
    (S.PENDING, S.DONE),
]


@pytest.mark.parametrize(("current", "new"), LEGAL)
def test_legal_moves(current: JobStatus, new: JobStatus) -> None:
    check_transition(current, new)


@pytest.mark.parametrize(("current", "new"), ILLEGAL)
def test_illegal_moves_raise(current: JobStatus, new: JobStatus) -> None:
    with pytest.raises(IllegalTransitionError, match=f"from {current.value} to {new.value}"):
        check_transition(current, new)


def _reachable(start: JobStatus) -> set[JobStatus]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_table_is_whole() -> None:
    assert set(TRANSITIONS) == set(JobStatus)
    # every state is reachable from pending (cancelled by its own rule), and every state that is
    # not final can still end: no job is stuck by the table itself
    assert _reachable(S.PENDING) | {S.CANCELLED} == set(JobStatus)
    for status in set(JobStatus) - TERMINAL:
        assert _reachable(status) & {S.DONE, S.FAILED}, status


def test_the_ledger_refuses_an_illegal_move_and_keeps_the_row(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    key = job_key("kling", "lip-sync", {"text": "x"}, {"video": {"sha256": "a" * 64}})
    record, lease = ledger.open_job(
        key, name="x", provider="kling", endpoint="lip-sync", params={}, inputs={}
    )
    assert lease is not None
    with pytest.raises(IllegalTransitionError):
        ledger.update(lease, status=S.CREATING, task_id="1")
    assert ledger.get(record.job_id).status is S.PENDING
    assert ledger.get(record.job_id).task_id is None
    ledger.update(lease, status=S.CHECKED)
    assert ledger.update(lease, status=S.HOSTED).status is S.HOSTED
    lease.release()


@pytest.mark.parametrize(
    ("task_id", "providers"),
    [
        ("812345678901234567890", ["kling"]),
        ("0123456789abcdef0123456789ABCDEF", ["wavespeed"]),
        ("12345", []),  # too short for a Kling id
        ("not-an-id", []),
    ],
)
def test_task_ids_tell_their_provider(task_id: str, providers: list[str]) -> None:
    assert [e.name for e in providers_for_task_id(task_id)] == providers


@pytest.mark.parametrize(
    ("provider", "role", "upload_to", "route"),
    [
        ("kling", "video", False, None),  # Kling fetches video by URL and has no upload
        ("kling", "audio", False, "inline"),
        ("kling", "video", True, "s3"),
        ("kling", "audio", True, "s3"),
        ("wavespeed", "video", False, "upload"),
        ("wavespeed", "audio", True, "s3"),
    ],
)
def test_hosting_routes(provider: str, role: str, upload_to: bool, route: str | None) -> None:
    assert entry(provider).hosting(role, upload_to=upload_to) == route


def test_clients_name_their_provider() -> None:
    kling = KlingClient("ak", "sk", base_url="http://127.0.0.1:9")
    wavespeed = WaveSpeedClient("key", base_url="http://127.0.0.1:9")
    try:
        assert entry_for_client(kling).name == "kling"
        assert entry_for_client(wavespeed, "wavespeed").name == "wavespeed"
        with pytest.raises(ProviderMismatchError, match="talks to kling"):
            entry_for_client(kling, "wavespeed")
    finally:
        kling.close()
        wavespeed.close()
    with pytest.raises(ProviderMismatchError, match="not dict"):
        entry_for_client({})
    with pytest.raises(ConfigError, match="known: kling, wavespeed, fal"):
        entry("replicate")
    with FalClient("key", base_url="http://127.0.0.1:9") as fal:
        assert entry_for_client(fal).name == "fal"
        with pytest.raises(ProviderMismatchError, match="talks to fal"):
            entry_for_client(fal, "wavespeed")


def _choices(command: click.Command, name: str) -> list[str]:
    (option,) = [p for p in command.params if p.name == name]
    assert isinstance(option.type, click.Choice)
    return list(option.type.choices)


def test_a_profile_for_another_provider_is_refused_before_the_ledger(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"not read: the job stops before its inputs are looked at")
    ledger = Ledger(tmp_path / "l.db")
    client = KlingClient("ak", "sk", base_url="http://127.0.0.1:9")
    try:
        runner = Submitter(ledger, {"kling": KlingProvider(client)})
        request = SubmitRequest(
            str(video), text="hi", voice_id="v", profile="wavespeed-kling-lipsync-t2v"
        )
        with pytest.raises(ProviderMismatchError, match="is for wavespeed, not kling"):
            runner.run(request)
        with pytest.raises(ConfigError, match="no-such-profile"):
            runner.run(
                SubmitRequest(str(video), text="hi", voice_id="v", profile="no-such-profile")
            )
    finally:
        client.close()
    assert ledger.jobs() == []


def test_status_without_provider_needs_a_recognisable_id() -> None:
    result = CliRunner().invoke(main, ["status", "not-an-id"], env={"KLING_ACCESS_KEY": ""})
    assert result.exit_code == 2
    assert "try --provider kling or --provider wavespeed" in result.output


def test_the_cli_offers_the_registry() -> None:
    assert _choices(submit_command, "provider") == list(PROVIDERS)
    assert _choices(status_command, "provider") == list(PROVIDERS)
    assert _choices(tasks_command, "provider") == [n for n, e in REGISTRY.items() if e.can_list]


@pytest.mark.parametrize(
    ("fields", "speech"),
    [
        ({"text": "hi", "voice_id": "v"}, Speech("hi", "v", "en", 1.0)),
        ({"text": "hi", "voice_id": "v", "voice_language": "zh"}, Speech("hi", "v", "zh", 1.0)),
        ({"text": "hi", "voice_id": "v", "voice_speed": 1.5}, Speech("hi", "v", "en", 1.5)),
        ({"audio": "a.mp3"}, None),
    ],
)
def test_the_request_resolves_one_speech(fields: dict[str, object], speech: Speech | None) -> None:
    request = SubmitRequest("v.mp4", **fields).validate()  # type: ignore[arg-type]
    assert request.speech == speech
    if speech is not None:
        assert request.params() == {"mode": "text", **speech.fields()}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": "hi"}, "needs --voice-id"),
        ({"text": "hi", "voice_id": "v", "voice_language": "fr"}, "zh or en"),
        ({"audio": "a.mp3", "voice_id": "v"}, "go with --text"),
        ({"text": "hi", "voice_id": "v", "provider": "replicate"}, "unknown provider"),
    ],
)
def test_wrong_combinations(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SubmitRequest("v.mp4", **fields).validate()  # type: ignore[arg-type]
