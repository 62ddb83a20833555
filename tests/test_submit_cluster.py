"""`preflight submit --jobs --scheduler`: one coordinator (ledger, provider slots) whose check and
fix work runs on a real Dask cluster on loopback, against the sandbox provider."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dask_cluster import Cluster, start_cluster

from preflight.cli import main
from preflight.probing import probe
from preflight.sandbox import Faults, Sandbox, SandboxConfig
from preflight.submitting.ledger import JobStatus, Ledger

pytest.importorskip("distributed")

Media = Callable[[str], Path]
cluster = pytest.fixture(scope="module")(start_cluster)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)) as sb:
        yield sb


def _jobs(tmp_path: Path, media: Media) -> Path:
    """Six jobs: three clips that pass, three in Matroska (a remux fixes them), distinct bytes."""
    lines = []
    for i in range(6):
        name = f"clip{i}.{'mp4' if i % 2 else 'mkv'}"
        shutil.copy(media("ok" if i % 2 else "mkv"), tmp_path / name)
        lines.append({"video": name, "text": f"line {i}", "voice_id": "genshin_klee2",
                      "out": f"out/{i}.mp4"})  # fmt: skip
    path = tmp_path / "jobs.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _prefixes(address: str) -> set[str]:
    """The names of the functions the cluster's scheduler has run tasks of."""
    from distributed import Client

    def names(dask_scheduler: Any) -> list[str]:
        return list(dask_scheduler.task_prefixes)

    with Client(address, timeout=30) as client:
        return set(client.run_on_scheduler(names))


def test_a_batch_checks_and_fixes_on_the_cluster_and_pays_once(
    cluster: Cluster, sandbox: Sandbox, media: Media, tmp_path: Path, s3_bucket: str
) -> None:
    jobs = _jobs(tmp_path, media)
    shared = tmp_path / "shared"
    ledger = tmp_path / "l.sqlite3"
    sandbox.set_faults(Faults(max_open_tasks=2))  # a third open task would be refused (1303)
    args = ["submit", "--no-face", "--jobs", str(jobs), "--scheduler", cluster.address,
            "--fix-dir", str(shared), "--upload-to", f"s3://{s3_bucket}/batch",
            "--concurrency", "2"]  # fmt: skip
    env = {**sandbox.environment(), "PREFLIGHT_LEDGER": str(ledger), "PREFLIGHT_SCHEDULER": ""}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["outcomes"]["done"] == 6
    assert {"check_chunk", "fix_chunk"} <= _prefixes(cluster.address)  # the work went there

    with Ledger(ledger) as book:
        records = book.jobs([])
    assert len(records) == 6
    assert {r.status for r in records} == {JobStatus.DONE}
    fixed = sorted(Path(r.fixed["video"]) for r in records if r.fixed)
    assert len(fixed) == 3  # the Matroska clips, fixed by the workers into the shared folder
    for path in fixed:
        assert path.parent.parent == shared
        assert probe(path).container == "mp4"
    assert not any(p.name == ".preflight-staging" for p in shared.rglob("*"))
    tasks = sandbox.tasks()
    assert len(tasks) == 6
    assert sandbox.core.store.creates == 6  # never past the 2 slots: not one create refused
    assert sorted(t.params["text"] for t in tasks) == [f"line {i}" for i in range(6)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i}.mp4" for i in range(6)]

    again = CliRunner().invoke(main, [*args, "--format", "json"], env=env)
    assert again.exit_code == 0, again.output
    results = [json.loads(line) for line in again.output.splitlines()]
    assert sum(r.get("event") == "result" and r["resumed"] for r in results) == 6
    assert len(sandbox.tasks()) == 6  # the re-run paid for nothing


def test_a_cluster_fix_with_no_shared_folder_is_a_usage_error(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    jobs = _jobs(tmp_path, media)
    ledger = tmp_path / "l.sqlite3"
    result = CliRunner().invoke(
        main,
        ["submit", "--no-face", "--jobs", str(jobs), "--upload-to", "s3://bucket/p"],
        env={**sandbox.environment(), "PREFLIGHT_LEDGER": str(ledger),
             "PREFLIGHT_SCHEDULER": "tcp://127.0.0.1:9"},
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--fix-dir" in result.output
    assert "worker's local disk" in result.output
    assert "Traceback" not in result.output
    assert sandbox.tasks() == []


def test_fixes_on_an_engine_can_land_in_s3(
    sandbox: Sandbox, media: Media, tmp_path: Path, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    monkeypatch.chdir(tmp_path)  # a relative VIDEO: the workers get it as an absolute path
    shutil.copy(media("mkv"), tmp_path / "clip.mkv")
    args = ["submit", "--no-face", "clip.mkv", "--text", "hi", "--voice-id", "genshin_klee2",
            "--engine", "local", "--fix-dir", f"s3://{s3_bucket}/fixed",
            "--upload-to", f"s3://{s3_bucket}/hosted"]  # fmt: skip
    env = {**sandbox.environment(), "PREFLIGHT_LEDGER": str(tmp_path / "l.sqlite3")}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=s3_bucket)["Contents"]]
    fixed = [k for k in keys if k.startswith("fixed/") and k.endswith(".mp4")]
    assert len(fixed) == 1, keys  # the worker's output, one PutObject
    assert any("/.preflight-done/" in k for k in keys)  # its resume marker, in the job's folder
    assert len(sandbox.tasks()) == 1
    assert (tmp_path / "clip.lipsync.mp4").is_file()
