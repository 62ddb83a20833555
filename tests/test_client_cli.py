"""`preflight status` and `preflight tasks` against the sandbox, configured by environment."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.client import TEXT_TO_VIDEO_MODEL, KlingClient, Task, WaveSpeedClient
from preflight.sandbox import Faults, Sandbox, SandboxConfig


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(clock_scale=0)) as sb:
        yield sb


@pytest.fixture(scope="module")
def tasks(sandbox: Sandbox, media: Callable[[str], Path]) -> list[Task]:
    """Three Kling lip-sync tasks (the last one failed) and one WaveSpeed prediction, all ended."""
    video = sandbox.serve_file(media("ok"))
    made = []
    with httpx.Client() as http:
        kling = KlingClient(
            sandbox.kling_access_key,
            sandbox.kling_secret_key,
            base_url=sandbox.url,
            http_client=http,
        )
        for text in ("one", "two"):
            made.append(kling.create_lip_sync(video_url=video, text=text, voice_id="AOT"))
        sandbox.set_faults(Faults(fail_every=1))
        made.append(kling.create_lip_sync(video_url=video, text="three", voice_id="AOT"))
        sandbox.set_faults(Faults())
        ws = WaveSpeedClient(sandbox.wavespeed_api_key, base_url=sandbox.url, http_client=http)
        made.append(ws.submit(TEXT_TO_VIDEO_MODEL, video=video, text="four", voice_id="AOT"))
    sandbox.settle()
    return made


@pytest.fixture
def runner(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name, value in sandbox.environment().items():
        monkeypatch.setenv(name, value)
    return CliRunner()


def test_status_of_a_kling_task(runner: CliRunner, tasks: list[Task]) -> None:
    result = runner.invoke(main, ["status", tasks[0].id])
    assert result.exit_code == 0, result.output
    assert f"task      {tasks[0].id}" in result.output
    assert "status    succeeded" in result.output
    assert "video     http://127.0.0.1:" in result.output


def test_status_of_a_failed_task_shows_the_reason(runner: CliRunner, tasks: list[Task]) -> None:
    result = runner.invoke(main, ["status", tasks[2].id, "--provider", "kling", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["status"] == "failed"
    assert "no human" in record["status_message"]
    assert record["id"] == tasks[2].id


def test_status_of_a_wavespeed_prediction(runner: CliRunner, tasks: list[Task]) -> None:
    result = runner.invoke(main, ["status", tasks[3].id, "--provider", "wavespeed", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert (record["provider"], record["status"], record["model"]) == (
        "wavespeed",
        "succeeded",
        TEXT_TO_VIDEO_MODEL,
    )
    assert record["videos"][0]["url"].startswith("http://127.0.0.1:")


def test_tasks_lists_newest_first(runner: CliRunner, tasks: list[Task]) -> None:
    result = runner.invoke(main, ["tasks", "--provider", "kling"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["TASK", "STATUS", "CREATED", "RESULT"]
    ids = [line.split()[0] for line in lines[1:]]
    assert ids == [t.id for t in tasks[:3]][::-1]
    assert "no human in the video" in lines[1]


def test_tasks_pages_and_json(runner: CliRunner, tasks: list[Task]) -> None:
    page = runner.invoke(main, ["tasks", "--page", "2", "--page-size", "2", "--json"])
    every = runner.invoke(main, ["tasks", "--all", "--page-size", "1", "--json"])
    assert page.exit_code == every.exit_code == 0
    assert [json.loads(line)["id"] for line in page.output.splitlines()] == [tasks[0].id]
    assert [json.loads(line)["id"] for line in every.output.splitlines()] == [
        t.id for t in tasks[:3]
    ][::-1]


def test_an_unknown_task_is_one_line_and_exit_1(runner: CliRunner, tasks: list[Task]) -> None:
    result = runner.invoke(main, ["status", "1234567890123456789"])
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_missing_keys_exit_2_and_show_no_secret(
    runner: CliRunner, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KLING_SECRET_KEY")
    result = runner.invoke(main, ["tasks"])
    assert result.exit_code == 2
    assert "KLING_SECRET_KEY" in result.output
    assert sandbox.kling_access_key not in result.output


def test_wrong_key_is_an_authentication_error(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KLING_SECRET_KEY", "sk_" + "1" * 32)
    result = runner.invoke(main, ["tasks"])
    assert result.exit_code == 1
    assert "code=1002" in result.output
    assert "sk_111" not in result.output


def test_empty_listing(sandbox: Sandbox, runner: CliRunner, tasks: list[Task]) -> None:
    result = runner.invoke(main, ["tasks", "--kind", "image2video"])
    assert result.exit_code == 0
    assert result.output.strip() == "no tasks"
