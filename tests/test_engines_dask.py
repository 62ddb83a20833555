"""preflight.engines on a real Dask cluster: a `dask scheduler` and two `dask worker` processes
on loopback, started as a user would start them, and always torn down."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from dask_cluster import Cluster, start_cluster

from preflight.checking.check import check
from preflight.engines import Engine, check_batch, fix_batch
from preflight.fixing import FixOptions, FixResult
from preflight.report import render

pytest.importorskip("distributed")

Media = Callable[[str], Path]
cluster = pytest.fixture(scope="module")(start_cluster)


def test_check_on_a_cluster_gives_the_local_report(cluster: Cluster, media: Media) -> None:
    inputs = [str(media(n)) for n in ("ok", "short", "mkv", "small", "noaudio", "mp3")]
    expected = check(inputs, cache=False, face=False)
    got = check_batch(inputs, engine=Engine("dask", cluster.address), cache=False, face=False)
    assert render(got, "json") == render(expected, "json")
    assert got.exit_code == expected.exit_code


def test_a_session_sizes_check_chunks_by_the_clusters_threads(cluster: Cluster) -> None:
    from preflight.engines import Session
    from preflight.engines.batch import check_chunk_size

    with Session(Engine("dask", cluster.address)) as session:
        assert session.slots == 2  # two workers of one thread, whatever this machine's cores
        assert check_chunk_size(160, session) == 20  # about four chunks a slot


def test_a_local_cluster_runs_its_workers_without_the_profiler() -> None:
    import dask
    from distributed import Client

    from preflight.engines.pool import local_cluster

    def profiling() -> bool:
        return bool(dask.config.get("distributed.worker.profile.enabled"))

    with local_cluster(1) as started, Client(started) as client:
        assert list(client.run(profiling).values()) == [False]


def test_a_worker_killed_mid_fix_loses_no_input(
    cluster: Cluster, media: Media, tmp_path: Path
) -> None:
    sources = []
    for i in range(6):
        sources.append(str(tmp_path / f"clip{i}.mkv"))
        shutil.copy(media("mkv"), sources[-1])
        with open(sources[-1], "ab") as fh:  # distinct content per clip: no resume across them
            fh.write(bytes([i]) * 16)
    out = tmp_path / "out"
    victim = cluster.workers[0]
    seen: list[FixResult] = []

    def on_result(result: FixResult) -> None:
        seen.append(result)
        if len(seen) == 1:  # items are still running on both workers: kill one, hard
            os.kill(victim.pid, signal.SIGKILL)

    results = fix_batch(
        sources,
        out_dir=str(out),
        options=FixOptions(face=False),  # generated test patterns have no face
        engine=Engine("dask", cluster.address),
        on_result=on_result,
    )
    assert victim.wait(timeout=30) == -signal.SIGKILL
    assert [r.source for r in results] == sources
    assert [r.status for r in results] == ["fixed"] * 6, [r.message for r in results]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        f"clip{i}.mp4" for i in range(6)
    ]
    assert not (out / ".preflight-staging").exists()  # no half file from the killed attempt


def test_copies_on_a_cluster_are_encoded_once_and_written_under_each_name(
    cluster: Cluster, media: Media, tmp_path: Path
) -> None:
    sources = [str(tmp_path / f"{name}.mkv") for name in "abc"]
    for source in sources:
        shutil.copy(media("mkv"), source)
    out = tmp_path / "out"
    results = fix_batch(
        sources,
        out_dir=str(out),
        options=FixOptions(face=False),
        engine=Engine("dask", cluster.address),
    )
    assert [r.status for r in results] == ["fixed"] * 3, [r.message for r in results]
    assert [r.encodes for r in results] == [1, 0, 0]
    assert [r.output for r in results] == [str(out / f"{name}.mp4") for name in "abc"]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "a.mp4",
        "b.mp4",
        "c.mp4",
    ]


def test_cli_engine_dask_without_an_address_runs_a_local_cluster(
    media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from preflight.cli import main

    monkeypatch.delenv("PREFLIGHT_SCHEDULER", raising=False)
    args = ["check", str(media("short")), str(media("ok")), "--no-face", "-f", "json"]
    plain = CliRunner().invoke(main, args)
    on_dask = CliRunner().invoke(main, [*args, "--engine", "dask", "--workers", "1"])
    assert on_dask.exit_code == plain.exit_code == 1, on_dask.output
    assert on_dask.output == plain.output
