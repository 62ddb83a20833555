"""A real Dask cluster on loopback for the tests: a `dask scheduler` and two `dask worker`
processes, started as a user would start them, and always torn down. A test module makes it its
fixture: ``cluster = pytest.fixture(scope="module")(start_cluster)``."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

__all__ = ["Cluster", "start_cluster"]

START_TIMEOUT_S = 60.0


@dataclass
class Cluster:
    address: str
    workers: list[subprocess.Popen[bytes]]


def _dask(*args: str) -> list[str]:
    return [sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]]


def start_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask")
    info = folder / "scheduler.json"
    procs: list[subprocess.Popen[bytes]] = []
    log = (folder / "cluster.log").open("wb")
    try:
        procs.append(
            subprocess.Popen(
                [*_dask("scheduler"), "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                 "--scheduler-file", str(info)],
                stdout=log, stderr=log, cwd=folder,
            )
        )  # fmt: skip
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [*_dask("worker"), "--scheduler-file", str(info), "--host", "127.0.0.1",
                     "--nthreads", "1", "--no-nanny", "--no-dashboard",
                     "--local-directory", str(folder)],
                    stdout=log, stderr=log, cwd=folder,
                )
            )  # fmt: skip
        with Client(scheduler_file=str(info), timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(2, timeout=START_TIMEOUT_S)
            address = client.scheduler.address
        yield Cluster(address, procs[1:])
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
