"""How long the CLI takes to start, against Python importing click alone, measured in the same run.

    python benchmarks/startup.py [--runs 15]

Times (wall clock, median of --runs, the commands interleaved so load on the machine hits them
alike) and CPU (user+sys of the child, median), for:

  baseline    `python -c "import click"`: the floor any click CLI stands on
  help        `preflight --help`: lists every command (from a table: none of them is imported)
  sub-help    `preflight check --help`
  check       `preflight check one.mp4 --no-face` on a 1 s clip made with FFmpeg, as a user runs
              it again (its facts come from the probe cache, filled by the untimed first run)
  check-cold  the same with --no-cache: libmediainfo is loaded and parses the file

and prints each as a ratio to the baseline. Targets: help and check within 2x of the baseline
(wall). Every timed run is checked (exit status, no traceback), so a broken command cannot pass
as a fast one. The children run with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed):
an installed package has its ``.pyc`` files, and compiling preflight's sources on every run
would add tens of milliseconds no user pays. The machine's other load moves every figure:
compare ratios, not seconds; on a busy machine the CPU ratios are the steadier ones.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"help": 2.0, "check": 2.0}


def _fixtures() -> object:
    spec = importlib.util.spec_from_file_location("bench_media", ROOT / "fixtures" / "media.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cli() -> list[str]:
    """The installed console script beside this Python (what users run), else ``-m``."""
    script = Path(sys.executable).with_name("preflight")
    return [str(script)] if script.exists() else [sys.executable, "-m", "preflight"]


def _time(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Wall and CPU (user+sys) seconds of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok or "Traceback" in done.stderr:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command")
    args = parser.parse_args()
    cli = _cli()
    with tempfile.TemporaryDirectory(prefix="preflight-startup-") as tmp:
        clip = _fixtures().make("short", Path(tmp))  # type: ignore[attr-defined]
        env = {**os.environ, "PREFLIGHT_CACHE_DIR": str(Path(tmp) / "cache"), "NO_COLOR": "1"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        check = [*cli, "check", str(clip), "--no-face"]
        commands = {
            "baseline": ([sys.executable, "-c", "import click"], (0,)),
            "help": ([*cli, "--help"], (0,)),
            "sub-help": ([*cli, "check", "--help"], (0,)),
            "check": (check, (0, 1)),
            "check-cold": ([*check, "--no-cache"], (0, 1)),
        }
        for argv, ok in commands.values():  # warm the OS file cache, the bytecode, the cache
            _time(argv, env, ok)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (argv, ok) in commands.items():
                times[name].append(_time(argv, env, ok))
    wall = {name: statistics.median(w for w, _ in v) for name, v in times.items()}
    cpu = {name: statistics.median(c for _, c in v) for name, v in times.items()}
    print(f"runs: {args.runs} each, interleaved; medians (wall min-max); CPU = user+sys")
    failed = False
    for name, values in times.items():
        ratio = wall[name] / wall["baseline"]
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            verdict = f"  target <= {target:g}x: {'met' if ratio <= target else 'MISSED'}"
            failed |= ratio > target
        low, high = min(w for w, _ in values), max(w for w, _ in values)
        print(
            f"{name:<10} {wall[name] * 1000:7.1f} ms ({low * 1000:.0f}-{high * 1000:.0f})  "
            f"{ratio:5.2f}x baseline  | CPU {cpu[name] * 1000:6.1f} ms "
            f"{cpu[name] / cpu['baseline']:5.2f}x{verdict}"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
