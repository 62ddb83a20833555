"""`preflight submit --jobs`: many jobs at bounded concurrency against the sandbox, with the
provider answering 1303 (too many tasks at once), and one bad job among good ones."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.sandbox import Faults, Sandbox, SandboxConfig
from preflight.submitting.gate import SlotGate

Media = Callable[[str], Path]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)) as sb:
        yield sb


def write_jobs(path: Path, lines: list[dict[str, object] | str]) -> Path:
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    )
    return path


def test_thirty_jobs_with_1303s_all_succeed_once_each(
    sandbox: Sandbox, media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(media("ok").read_bytes())
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        ["# thirty lines of dialogue over one clip"]
        + [
            {"video": "clip.mp4", "text": f"line number {i}", "voice_id": "genshin_klee2",
             "out": f"out/{i:02d}.mp4"}
            for i in range(30)
        ],
    )  # fmt: skip
    # a resource pack with 5 slots, and a 1303 on every 7th create besides
    sandbox.set_faults(Faults(max_open_tasks=5, concurrency_every=7))
    result = CliRunner().invoke(
        main,
        ["submit", "--no-face", "--jobs", str(jobs), "--concurrency", "8", "--upload-to",
         f"s3://{s3_bucket}/batch"],
        env={**sandbox.environment(), "PREFLIGHT_LEDGER": str(tmp_path / "l.sqlite3")},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    outcomes = [line for line in lines if line.startswith("done")]
    assert len(outcomes) == 30
    summary = json.loads(lines[-1])
    assert summary["jobs"] == 30
    assert summary["outcomes"]["done"] == 30
    tasks = sandbox.tasks()
    texts = Counter(t.params["text"] for t in tasks)
    assert len(tasks) == 30  # no duplicates ...
    assert set(texts.values()) == {1}  # ... and every line exactly once
    assert all(t.status == "succeed" for t in tasks)
    assert sandbox.core.store.creates > 30  # some creates were answered 1303 and sent again
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        f"{i:02d}.mp4" for i in range(30)
    ]

    # running the same batch again resumes every job: nothing new is created
    again = CliRunner().invoke(
        main,
        ["submit", "--no-face", "--jobs", str(jobs), "--upload-to", f"s3://{s3_bucket}/batch",
         "--format", "json"],
        env={**sandbox.environment(), "PREFLIGHT_LEDGER": str(tmp_path / "l.sqlite3")},
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    records = [json.loads(line) for line in again.output.splitlines()]
    assert sum(r.get("event") == "result" and r["resumed"] for r in records) == 30
    assert records[-1]["event"] == "summary"
    assert len(sandbox.tasks()) == 30


def test_one_bad_job_never_stops_the_others(
    sandbox: Sandbox, media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(media("ok").read_bytes())
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        [
            {"video": "clip.mp4", "text": "good one", "voice_id": "genshin_klee2"},
            "{not json",
            {"video": "missing.mp4", "text": "no file", "voice_id": "genshin_klee2"},
            {"video": "clip.mp4", "text": "x" * 200, "voice_id": "genshin_klee2",
             "out": "long.mp4"},
            {"video": "clip.mp4", "audio": "clip.mp4", "text": "both"},
        ],
    )  # fmt: skip
    result = CliRunner().invoke(
        main,
        ["submit", "--no-face", "--jobs", str(jobs), "--upload-to", f"s3://{s3_bucket}"],
        env={**sandbox.environment(), "PREFLIGHT_LEDGER": str(tmp_path / "l.sqlite3")},
    )
    assert result.exit_code == 1, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["outcomes"]["done"] == 1
    assert summary["outcomes"]["rejected"] + summary["outcomes"]["failed"] == 4
    assert "text.length" in result.output
    assert len(sandbox.tasks()) == 1


def test_the_gate_shrinks_on_refusal_and_grows_back() -> None:
    slept: list[float] = []
    gate = SlotGate(3, sleep=slept.append)
    for _ in range(3):
        gate.acquire()
    gate.refused()
    assert gate.capacity == 2
    gate.release()
    gate.release()
    # only one slot is free now: a second acquirer must wait for a release
    gate.acquire()
    waiter = threading.Thread(target=gate.acquire)
    waiter.start()
    waiter.join(0.05)
    assert waiter.is_alive()
    gate.created()  # a create went through: capacity back to 3, the waiter gets in
    waiter.join(5)
    assert not waiter.is_alive()
    assert gate.in_use == 3
    gate.backoff(0)
    gate.backoff(10)
    assert 0.5 <= slept[0] <= 1.0
    assert slept[1] <= 30.0
    with pytest.raises(ValueError, match="at least 1"):
        SlotGate(0)
