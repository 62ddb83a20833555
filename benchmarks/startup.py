"""How long the CLI takes to start, against Python importing click alone, measured in the same run.

    python benchmarks/startup.py [--runs 15]

Times (wall clock, median of --runs, the commands interleaved so load on the machine hits them
alike):

  baseline  `python -c "import click"`: the floor any click CLI stands on
  help      `preflight --help`: lists every command (from a table: none of them is imported)
  sub-help  `preflight check --help`
  check     `preflight check one.mp4 --no-face --no-cache` on a 1 s clip made with FFmpeg

and prints each as a ratio to the baseline. Target: help within 2x of the baseline. Every timed
run is checked (exit status, no traceback), so a broken command cannot pass as a fast one. The
machine's other load moves every figure: compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"help": 2.0}


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


def _time(argv: list[str], ok: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in ok or "Traceback" in done.stderr:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command")
    args = parser.parse_args()
    cli = _cli()
    with tempfile.TemporaryDirectory(prefix="preflight-startup-") as tmp:
        clip = _fixtures().make("short", Path(tmp))  # type: ignore[attr-defined]
        commands = {
            "baseline": ([sys.executable, "-c", "import click"], (0,)),
            "help": ([*cli, "--help"], (0,)),
            "sub-help": ([*cli, "check", "--help"], (0,)),
            "check": ([*cli, "check", str(clip), "--no-face", "--no-cache"], (0, 1)),
        }
        for argv, ok in commands.values():  # warm the OS file cache and the bytecode once
            _time(argv, ok)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (argv, ok) in commands.items():
                times[name].append(_time(argv, ok))
    base = statistics.median(times["baseline"])
    print(f"runs: {args.runs} each, interleaved; medians (min-max)")
    failed = False
    for name, values in times.items():
        median = statistics.median(values)
        ratio = median / base
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            verdict = f"  target <= {target:g}x: {'met' if ratio <= target else 'MISSED'}"
            failed |= ratio > target
        print(
            f"{name:<9} {median * 1000:7.1f} ms ({min(values) * 1000:.0f}-"
            f"{max(values) * 1000:.0f})  {ratio:5.2f}x baseline{verdict}"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
