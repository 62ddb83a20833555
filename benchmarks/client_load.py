"""Load: 500 lip-sync tasks through AsyncKlingClient at concurrency 50 against the sandbox.

The sandbox runs as its own process (``preflight sandbox``) with a resource pack of 20 slots:
a create answers 1303 whenever 20 tasks are open. Every task must succeed, the sandbox must hold
exactly one task per call (no duplicates from retries), and the client's own CPU time per task
is printed next to a baseline measured in the same run: a hand-written raw-httpx loop doing
the same create / back off on 1303 / poll work with no client library around it.

    python benchmarks/client_load.py [--tasks 500] [--concurrency 50] [--slots 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from preflight.client import AsyncKlingClient, TaskStatus  # noqa: E402

TEXT = {"text": "Hello from the load test", "voice_id": "genshin_klee2", "voice_language": "en"}


@dataclass
class Phase:
    name: str
    tasks: int
    succeeded: int
    distinct_ids: int
    created_at_sandbox: int
    requests: int
    refused: int
    wall: float
    cpu: float

    def row(self) -> str:
        return (
            f"{self.name:<22} {self.wall:8.1f} {self.succeeded:>5}/{self.tasks:<5}"
            f" {self.created_at_sandbox - self.tasks:>4} {self.requests:>9} {self.refused:>6}"
            f" {self.cpu / self.tasks * 1000:>12.2f} {self.cpu / self.requests * 1e6:>13.0f}"
        )


def start_sandbox(slots: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "preflight",
            "sandbox",
            "--port",
            "0",
            "--submitted-seconds",
            "0.1",
            "--processing-seconds",
            "0.2",
            "--max-open-tasks",
            str(slots),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(7)]
    env = dict(line.removeprefix("export ").strip().split("=", 1) for line in lines[1:])
    return proc, env


def sandbox_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_clip(outdir: Path) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("fixture_media", ROOT / "fixtures" / "media.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make("ok", outdir)  # type: ignore[no-any-return]


async def stats(http: httpx.AsyncClient, base: str) -> dict[str, Any]:
    return (await http.get(f"{base}/_sandbox/tasks")).json()  # type: ignore[no-any-return]


async def measure(
    name: str, env: dict[str, str], tasks: int, run: Callable[[], Awaitable[list[Any]]]
) -> Phase:
    base = env["KLING_BASE_URL"]
    async with httpx.AsyncClient() as http:
        before = await stats(http, base)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        results = await run()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        after = await stats(http, base)
    ok = [r for r in results if r is not None and r[1] == "succeed"]
    return Phase(
        name=name,
        tasks=tasks,
        succeeded=len(ok),
        distinct_ids=len({r[0] for r in ok}),
        created_at_sandbox=after["count"] - before["count"],
        requests=after["requests"] - before["requests"],
        refused=after["refused"].get("1303", 0) - before["refused"].get("1303", 0),
        wall=wall,
        cpu=cpu,
    )


async def client_phase(
    env: dict[str, str], video_url: str, tasks: int, concurrency: int
) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)
    async with AsyncKlingClient(
        env["KLING_ACCESS_KEY"],
        env["KLING_SECRET_KEY"],
        base_url=env["KLING_BASE_URL"],
        http_client=httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)),
    ) as client:

        async def one() -> tuple[str, str] | None:
            async with gate:
                try:
                    task = await client.create_lip_sync(video_url=video_url, **TEXT)
                    done = await client.wait(task, timeout=600)
                except Exception as exc:  # noqa: BLE001 - a failure is counted, not fatal
                    print(f"  client task failed: {exc!r}", file=sys.stderr)
                    return None
                assert done.status is TaskStatus.SUCCEEDED
                return done.id, "succeed"

        return await asyncio.gather(*(one() for _ in range(tasks)))


async def raw_phase(env: dict[str, str], video_url: str, tasks: int, concurrency: int) -> list[Any]:
    """The same work by hand: one token, create (1 s pause on 1303), poll every second."""
    gate = asyncio.Semaphore(concurrency)
    now = int(time.time())
    token = jwt.encode(
        {"iss": env["KLING_ACCESS_KEY"], "exp": now + 1800, "nbf": now - 5},
        env["KLING_SECRET_KEY"],
        algorithm="HS256",
        headers={"typ": "JWT"},
    )
    base = env["KLING_BASE_URL"]
    body = {"input": {"video_url": video_url, "mode": "text2video", **TEXT}}
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        limits=httpx.Limits(max_connections=concurrency),
    ) as http:

        async def one() -> tuple[str, str] | None:
            async with gate:
                while True:
                    answer = (await http.post(f"{base}/v1/videos/lip-sync", json=body)).json()
                    if answer["code"] != 1303:
                        break
                    await asyncio.sleep(1.0)
                if answer["code"] != 0:
                    return None
                task_id = answer["data"]["task_id"]
                while True:
                    await asyncio.sleep(1.0)
                    data = (await http.get(f"{base}/v1/videos/lip-sync/{task_id}")).json()["data"]
                    if data["task_status"] in ("succeed", "failed"):
                        return task_id, data["task_status"]

        return await asyncio.gather(*(one() for _ in range(tasks)))


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp))
        proc, env = start_sandbox(args.slots)
        try:
            async with httpx.AsyncClient() as http:
                uploaded = await http.post(
                    f"{env['WAVESPEED_BASE_URL']}/api/v3/media/upload/binary",
                    headers={"Authorization": f"Bearer {env['WAVESPEED_API_KEY']}"},
                    files={"file": (clip.name, clip.read_bytes(), "video/mp4")},
                )
            video_url = uploaded.json()["data"]["download_url"]
            cpu_start = sandbox_cpu(proc.pid)
            baseline = await measure(
                "baseline (raw httpx)",
                env,
                args.tasks,
                lambda: raw_phase(env, video_url, args.tasks, args.concurrency),
            )
            cpu_mid = sandbox_cpu(proc.pid)
            client = await measure(
                "AsyncKlingClient",
                env,
                args.tasks,
                lambda: client_phase(env, video_url, args.tasks, args.concurrency),
            )
            cpu_end = sandbox_cpu(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    print(
        f"client_load: {args.tasks} lip-sync tasks, concurrency {args.concurrency}, "
        f"sandbox answers 1303 while {args.slots} tasks are open"
    )
    print(
        f"{'':<22} {'wall s':>8} {'succeeded':>11} {'dup':>4} {'requests':>9} {'1303s':>6}"
        f" {'CPU ms/task':>12} {'CPU µs/req':>13}"
    )
    for phase in (baseline, client):
        print(phase.row())
    per_task = (client.cpu / client.tasks) / (baseline.cpu / baseline.tasks)
    per_request = (client.cpu / client.requests) / (baseline.cpu / baseline.requests)
    print(
        f"client CPU time per task: {client.cpu / client.tasks * 1000:.2f} ms "
        f"({per_task:.2f}x the raw-httpx baseline; {per_request:.2f}x per request)"
    )
    if None not in (cpu_start, cpu_mid, cpu_end):
        assert cpu_start is not None
        assert cpu_mid is not None
        assert cpu_end is not None
        print(
            f"sandbox CPU per task: baseline {(cpu_mid - cpu_start) / args.tasks * 1000:.2f} ms,"
            f" client {(cpu_end - cpu_mid) / args.tasks * 1000:.2f} ms"
        )
    ok = (
        client.succeeded == args.tasks
        and client.distinct_ids == args.tasks
        and client.created_at_sandbox == args.tasks
    )
    print("PASS: every task succeeded, no duplicates at the sandbox" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--slots", type=int, default=20)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
