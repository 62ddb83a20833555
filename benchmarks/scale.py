"""The engines side by side, in one run: check 2,000 files and fix 40 clips on each.

    python benchmarks/scale.py [--files 2000] [--fixes 40] [--repeat 7]

Makes one tiny clip with FFmpeg (a 1 s 480x720 H.264/AAC mp4: it fails ``video.duration`` and
the size window, so fixing it is a real re-encode) and copies it under N names into a temporary
directory; every check runs with the probe cache off (``cache=False``), so each copy is probed
afresh, and without the face checks (``face=False``: this measures the engines, not OpenCV).
Each fix run writes into a fresh output folder (nothing to resume). Engines:

  serial         one item after another in this process
  local          the process pool over this machine's cores (`--engine local`)
  dask-1         a Dask LocalCluster with one single-threaded worker
  dask-2         ... with two workers
  dask-1 pinned  dask-1 with its worker process held to one core (fix only)
  dask-2 pinned  dask-2 with each worker held to a core of its own (fix only): two one-core
                 machines, as a cluster is. Unpinned, one fix already keeps about 1.25 cores
                 busy (FFmpeg runs demuxing, decoding, filtering, encoding and muxing in threads
                 of their own, even with the encoder at one thread), so on a 2-core machine two
                 unpinned workers can be at most 2 / 1.25 = 1.6x one: that ceiling is this
                 machine's, not the engine's. Both figures are printed.
  dask-2 +start  the same, counting the LocalCluster's start and stop (`--engine dask` with no
                 address); the other Dask figures use a cluster already running, as
                 ``--scheduler`` does, warmed by one untimed 16-file batch (a running cluster's
                 workers have imported preflight already); the local pool gets the same
                 untimed batch first, which starts its forkserver (preloaded with preflight)

Each check figure is the median of ``--repeat`` runs, the local pool's interleaved round by
round with each cluster's (a batch takes under a second, where a spell of other load moves a
block of runs by half); each fix figure is one run. Prints files per second and the ratios the issue
sets targets for: Dask's check overhead against the local pool (dask-2 time / local time - 1,
the median of the rounds' own ratios, target <= 20 %) and fix scaling (dask-2 rate / dask-1
rate, target >= 1.7x, with each worker on a core of its own). A machine shared with
other work moves every figure; compare ratios, not rates.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _ffmpeg() -> str:
    spec = importlib.util.spec_from_file_location("bench_media", ROOT / "fixtures" / "media.py")
    assert spec is not None
    assert spec.loader is not None
    media = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(media)
    found: str = media._ffmpeg()  # type: ignore[attr-defined]
    return found


def _clip(folder: Path) -> Path:
    target = folder / "tiny.mp4"
    subprocess.run(
        [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=480x720:rate=25", "-f", "lavfi",
         "-i", "sine=frequency=440:sample_rate=44100", "-t", "1", "-c:v", "libx264",
         "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(target)],
        check=True,
    )  # fmt: skip
    return target


def _variant(clip: Path, target: Path, n: int) -> str:
    """``clip`` remuxed with its own title: the same media, other bytes."""
    subprocess.run(
        [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(clip), "-c", "copy",
         "-metadata", f"title=variant {n}", str(target)],
        check=True,
    )  # fmt: skip
    return str(target)


class _TreeCPU:
    """CPU seconds used by this process and every descendant while a run lasts. Each process is
    sampled at 5 Hz for its own time plus that of its children it has reaped (``cutime``), so a
    process that starts and ends between samples (an FFmpeg run, a pool worker) is still counted
    in full, through its parent. Wall time on a shared machine measures the others' load as much
    as ours; CPU time measures the engine's cost."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.seen: dict[int, float] = {}
        self.alive: set[int] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        alive = set()
        for proc in [self.me, *self.me.children(recursive=True)]:
            try:
                t = proc.cpu_times()
            except psutil.Error:
                continue
            used = t.user + t.system + t.children_user + t.children_system
            self.seen[proc.pid] = max(self.seen.get(proc.pid, 0.0), used)
            alive.add(proc.pid)
        self.alive = alive

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            self._sample()

    def __enter__(self) -> _TreeCPU:
        self._sample()
        self.base = dict(self.seen)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        """A process alive at the end counts its own growth (its reaped children included); one
        that ended was reaped by a parent that counts its whole life, less what it had used
        before the run (``base``)."""
        grown = sum(self.seen[pid] - self.base.get(pid, 0.0) for pid in self.alive)
        return grown - sum(v for pid, v in self.base.items() if pid not in self.alive)


def _pin_workers(cluster: Any) -> None:
    """Hold each of ``cluster``'s worker processes, every thread of it (and so every FFmpeg it
    starts later), to one core of its own: worker i to core i. The scheduler and the nannies
    (in this process) stay free; they use a few percent of a core."""
    import psutil

    cores = sorted(os.sched_getaffinity(0))
    pids = sorted(
        p.pid
        for p in psutil.Process().children(recursive=True)
        if "spawn_main" in " ".join(p.cmdline())
    )
    if len(pids) != len(cluster.workers):
        sys.exit(f"found {len(pids)} worker processes for {len(cluster.workers)} workers")
    for i, pid in enumerate(pids):
        for tid in os.listdir(f"/proc/{pid}/task"):
            os.sched_setaffinity(int(tid), {cores[i % len(cores)]})


def _timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    with _TreeCPU() as cpu:
        started = time.perf_counter()
        result = fn()
        wall = time.perf_counter() - started
    return wall, cpu.seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--fixes", type=int, default=40)
    parser.add_argument("--only", choices=["check", "fix"], help="Run one half (default: both).")
    parser.add_argument(
        "--repeat", type=int, default=7, help="check runs per engine; the median is shown"
    )
    args = parser.parse_args()

    from preflight.engines import Engine, check_batch, fix_batch
    from preflight.engines.pool import local_cluster
    from preflight.fixing import FixOptions

    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="preflight-scale-"))
    try:
        clip = _clip(work)
        batch = work / "check"
        batch.mkdir()
        for i in range(args.files):
            shutil.copyfile(clip, batch / f"c{i:05d}.mp4")
        fixes = work / "fix"
        fixes.mkdir()
        # distinct bytes per source (a remux with its own title): identical inputs in one batch
        # are encoded once and copied (docs/scale.md), which would measure one encode, not 40
        sources = [_variant(clip, fixes / f"f{i:03d}.mp4", i) for i in range(args.fixes)]

        warm = work / "warm"
        warm.mkdir()
        for i in range(16):
            shutil.copyfile(clip, warm / f"w{i:02d}.mp4")

        def warm_up(engine: Engine) -> None:
            """An untimed small batch: a running cluster has its modules imported already."""
            check_batch([str(warm)], engine=engine, cache=False, face=False)

        def check_on(engine: Engine) -> Callable[[], Any]:
            return lambda: check_batch([str(batch)], engine=engine, cache=False, face=False)

        runs = 0
        no_face = FixOptions(face=False)  # the engines, not OpenCV (a test pattern has no face)

        def fix_on(engine: Engine) -> Callable[[], Any]:
            def run() -> Any:
                nonlocal runs
                runs += 1
                out = work / f"out{runs}"
                return fix_batch(
                    sources, out_dir=str(out), engine=engine, resume=False, options=no_face
                )

            return run

        cpus: dict[tuple[str, str], float] = {}

        def measure(kind: str, name: str, fn: Callable[[], Any]) -> float:
            return summarise(kind, name, [_timed(fn)])

        def summarise(kind: str, name: str, timings: list[tuple[float, float, Any]]) -> float:
            seconds = statistics.median(t[0] for t in timings)
            cpu = statistics.median(t[1] for t in timings)
            got = timings[-1][2]
            count = len(got.results) if kind == "check" else len(got)
            bad = (
                [r for r in got.results if r.findings and r.findings[0].rule == "input.readable"]
                if kind == "check"
                else [r for r in got if not r.ok]
            )
            if count != (args.files if kind == "check" else args.fixes) or bad:
                sys.exit(f"{kind} on {name}: {len(bad)} failed items; the figure would lie")
            cpus[kind, name] = cpu
            load = os.getloadavg()[0]
            print(
                f"{kind:5} {name:14} {seconds:7.2f} s {count / seconds:7.1f} files/s  "
                f"CPU {cpu:7.2f} s ({cpu / count * 1000:6.1f} ms a file)  load {load:.0f}",
                flush=True,
            )
            return seconds

        times: dict[tuple[str, str], float] = {}
        plans: list[tuple[str, Callable[[Engine], Callable[[], Any]]]] = [
            ("check", check_on),
            ("fix", fix_on),
        ]
        paired: list[float] = []

        def check_half() -> None:
            """The local pool's check runs interleaved with each cluster's, round after round
            (the order reversed every other round): a check batch takes well under a second,
            and on a shared machine a spell of someone else's load moved one engine's block of
            runs by half (+9 %, -18 %, +57 % for the same code). One cluster is up at a time:
            a LocalCluster's scheduler and nannies run in this process, and two of them took
            the GIL from everything measured here. Each figure is the median of its runs; the
            overhead is also the median of the rounds' own dask-2 / local ratios."""
            runs: dict[str, list[tuple[float, float, Any]]] = {"local": []}
            runs["serial"] = [_timed(check_on(Engine("serial"))) for _ in range(args.repeat)]
            local = Engine("local", workers=cores)
            warm_up(local)  # starts the forkserver, as any earlier run would have
            for n in (1, 2):
                cluster = local_cluster(n)  # the cluster `--engine dask` starts
                try:
                    engine = Engine("dask", cluster.scheduler_address)
                    warm_up(engine)  # a running cluster's workers have imported preflight
                    name = f"dask-{n}"
                    runs[name] = []
                    for r in range(args.repeat):
                        for which in ("local", name) if r % 2 == 0 else (name, "local"):
                            runs[which].append(
                                _timed(check_on(local if which == "local" else engine))
                            )
                        if n == 2:
                            paired.append(runs[name][-1][0] / runs["local"][-1][0] - 1)
                finally:
                    cluster.close()
            for name in ("serial", "local", "dask-1", "dask-2"):
                times["check", name] = summarise("check", name, runs[name])
            times["check", "dask-2 +start"] = summarise(
                "check",
                "dask-2 +start",
                [_timed(check_on(Engine("dask", None, workers=2))) for _ in range(args.repeat)],
            )

        for kind, factory in [p for p in plans if args.only in (None, p[0])]:
            if kind == "check":
                check_half()
                continue
            times[kind, "serial"] = measure(kind, "serial", factory(Engine("serial")))
            warm_up(Engine("local", workers=cores))  # starts the forkserver, as any earlier run
            times[kind, "local"] = measure(kind, "local", factory(Engine("local", workers=cores)))
            # pinning needs Linux's per-thread affinity (and /proc); elsewhere, unpinned only
            can_pin = hasattr(os, "sched_setaffinity") and os.path.isdir("/proc/self/task")
            for n, pinned in [(1, False), (2, False), (1, True), (2, True)][: 4 if can_pin else 2]:
                cluster = local_cluster(n)  # the cluster `--engine dask` starts
                try:
                    if pinned:
                        _pin_workers(cluster)
                    engine = Engine("dask", cluster.scheduler_address)
                    warm_up(engine)
                    name = f"dask-{n}" + (" pinned" if pinned else "")
                    times[kind, name] = measure(kind, name, factory(engine))
                finally:
                    cluster.close()
            times[kind, "dask-2 +start"] = measure(
                kind, "dask-2 +start", factory(Engine("dask", None, workers=2))
            )
        print(f"\n{cores} cores; {args.files} checks, {args.fixes} fixes")
        if args.only != "fix":
            _check_ratios(times, cpus, args.files, statistics.median(paired))
        if args.only != "check":
            _fix_ratios(times, args.fixes)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_ratios(
    times: dict[tuple[str, str], float],
    cpus: dict[tuple[str, str], float],
    files: int,
    paired: float,
) -> None:
    overhead = times["check", "dask-2"] / times["check", "local"] - 1
    overhead_start = times["check", "dask-2 +start"] / times["check", "local"] - 1
    cpu_overhead = cpus["check", "dask-2"] / cpus["check", "local"] - 1
    print(
        f"check: dask-2 overhead vs local pool  {paired:+.1%}  (median of the rounds' own ratios;"
    )
    print(f"                                      target <= +20%); of the medians {overhead:+.1%}")
    print(f"check: with the cluster's start       {overhead_start:+.1%}")
    print(f"check: dask-2 CPU vs local pool CPU   {cpu_overhead:+.1%}")
    pool = times["check", "serial"] / times["check", "local"]
    print(f"check: local pool vs serial           {pool:.2f}x")
    print(f"check: serial wall per file           {times['check', 'serial'] / files * 1000:.1f} ms")


def _fix_ratios(times: dict[tuple[str, str], float], fixes: int) -> None:
    scaling = times["fix", "dask-1"] / times["fix", "dask-2"]
    if ("fix", "dask-2 pinned") in times:
        pinned = times["fix", "dask-1 pinned"] / times["fix", "dask-2 pinned"]
        print(f"fix:   dask-2 vs dask-1, a core each  {pinned:.2f}x  (target >= 1.7x)")
    else:
        print("fix:   dask-2 vs dask-1, a core each  not measured (needs Linux's CPU affinity)")
    print(f"fix:   dask-2 vs dask-1, unpinned     {scaling:.2f}x  (at most ~1.6x on 2 cores)")
    pool = times["fix", "serial"] / times["fix", "local"]
    print(f"fix:   local pool vs serial           {pool:.2f}x")
    print(f"fix:   serial wall per file           {times['fix', 'serial'] / fixes:.2f} s")


if __name__ == "__main__":
    main()
