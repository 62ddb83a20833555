"""How fast and how good `preflight fix` is, against baselines measured in the same run.

    python benchmarks/fix_speed.py [--keep DIR]

(a) a container-only fix (H.264/AAC mkv -> mp4, remux) against a full re-encode of the same
    file (`ffmpeg -i in.mkv -c:v libx264 -c:a aac out.mp4`): target at least 20x faster;
(b) a 4K 15 s clip -> a compliant 1080p 10 s clip against the naive
    `ffmpeg -i in.mp4 -vf scale=1920:-2 -t 10 out.mp4`: target no slower, same or better SSIM
    (both scored against the same reference: the source's first 10 s scaled with `area`);
(c) compress-to-size against tight byte limits: target 85-100 % of the limit on the first or
    second encode.

The sources are generated (testsrc2; the 4K one with light temporal noise so the encoder has
real work). Wall
times include everything a user waits for (probe, plan, encode, verification probe); the SSIM
measurement of (b) is made separately and not timed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from preflight.fixing import FixOptions, fix
from preflight.rules.profiles import load_profile
from preflight.toolchain.runner import input_args, run


def make_source(path: Path, size: str, seconds: float, fmt: str, noise: int = 0) -> Path:
    """testsrc2 + a tone, H.264/AAC; ``noise`` adds temporal grain so encoders have real work."""
    if path.exists():
        return path
    video = f"testsrc2=size={size}:rate=25:duration={seconds}"
    audio = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
    grain = ["-vf", f"noise=alls={noise}:allf=t"] if noise else []
    encode = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "26", "-pix_fmt", "yuv420p"]
    run(
        [
            "-y",
            "-f",
            "lavfi",
            "-i",
            video,
            "-f",
            "lavfi",
            "-i",
            audio,
            *grain,
            *encode,
            "-c:a",
            "aac",
            "-ac",
            "2",
            "-shortest",
            "-f",
            fmt,
            str(path),
        ]
    )
    return path


def timed(fn: object, *args: object, **kwargs: object) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)  # type: ignore[operator]
    return time.perf_counter() - started, result


def ssim(distorted: Path, source: Path, frames: int) -> float:
    """Mean SSIM of ``distorted`` (1080p) against ``source`` at the source's own size.

    Each 1080p output is brought back to 3840x2160 with the same fixed filter (bicubic) and
    compared with the untouched source frames, so the reference favours no output's scaler.
    """
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "ssim.log"
        graph = (
            f"[0:v]trim=end_frame={frames},setpts=PTS-STARTPTS,"
            f"scale=3840:2160:flags=bicubic,format=yuv420p[d];"
            f"[1:v]trim=end_frame={frames},setpts=PTS-STARTPTS,format=yuv420p[r];"
            f"[d][r]ssim=stats_file={stats}"
        )
        run(
            [
                *input_args(distorted),
                *input_args(source),
                "-filter_complex",
                graph,
                "-f",
                "null",
                "-",
            ]
        )
        values = [
            float(field[4:])
            for line in stats.read_text().splitlines()
            for field in line.split()
            if field.startswith("All:")
        ]
    return sum(values) / len(values)


def bench_remux(work: Path) -> float:
    src = make_source(work / "in_1080p_10s.mkv", "1920x1080", 10, "matroska")
    t_fix, result = timed(fix, src, output=work / "remuxed.mp4", options=FixOptions())
    assert result.status == "fixed", result.message  # type: ignore[attr-defined]
    strategy = result.plan.strategy.value  # type: ignore[attr-defined]
    t_full, _ = timed(
        run,
        [
            "-y",
            *input_args(src),
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
            "-f",
            "mp4",
            str(work / "reencoded.mp4"),
        ],
    )
    ratio = t_full / t_fix
    print(
        f"(a) remux mkv->mp4 ({strategy}): {t_fix:.2f} s; full re-encode: {t_full:.2f} s; "
        f"{ratio:.1f}x faster (target >= 20x) {'PASS' if ratio >= 20 else 'FAIL'}"
    )
    return ratio


def bench_4k(work: Path) -> tuple[float, float, float]:
    src = make_source(work / "in_4k_15s.mp4", "3840x2160", 15, "mp4", noise=4)
    ours_out = work / "ours_1080p.mp4"
    naive_out = work / "naive_1080p.mp4"
    t_naive, _ = timed(
        run,
        ["-y", *input_args(src), "-vf", "scale=1920:-2", "-t", "10", "-f", "mp4", str(naive_out)],
    )
    t_ours, result = timed(fix, src, output=ours_out, options=FixOptions(quality=False))
    assert result.status == "fixed", result.message  # type: ignore[attr-defined]
    frames = 249  # ours keeps 9.96 s (one frame inside 10 s); score both on the same frames
    s_ours, s_naive = ssim(ours_out, src, frames), ssim(naive_out, src, frames)
    speed = t_naive / t_ours
    size_ours, size_naive = ours_out.stat().st_size, naive_out.stat().st_size
    ok = speed >= 1.0 and s_ours >= s_naive
    print(
        f"(b) 4K 15 s -> 1080p 10 s: preflight {t_ours:.1f} s, SSIM {s_ours:.4f}, "
        f"{size_ours / 1e6:.1f} MB; naive {t_naive:.1f} s, SSIM {s_naive:.4f}, "
        f"{size_naive / 1e6:.1f} MB; speed ratio {speed:.2f}x (target >= 1), "
        f"SSIM {s_ours - s_naive:+.4f} (target >= 0) {'PASS' if ok else 'FAIL'}"
    )
    return speed, s_ours, s_naive


def bench_compress(work: Path) -> list[tuple[int, int, float]]:
    src = make_source(work / "in_4k_15s.mp4", "3840x2160", 15, "mp4", noise=4)
    landed = []
    for limit in (2_500_000, 5_000_000, 10_000_000):
        profile_path = work / f"limit_{limit}.toml"
        profile_path.write_text(
            f'extends = "kling-lipsync"\n[rules."video.size"]\nmax_bytes = {limit}\n'
        )
        profile = load_profile(profile_path)
        out = work / f"compressed_{limit}.mp4"
        t, result = timed(fix, src, profile=profile, output=out, options=FixOptions(quality=False))
        assert result.status == "fixed", result.message  # type: ignore[attr-defined]
        attempts = result.attempts  # type: ignore[attr-defined]
        share = out.stat().st_size / limit
        ok = 0.85 <= share <= 1.0 and len(attempts) <= 2
        sizes = ", ".join(f"{a.size_bytes / limit:.1%}" for a in attempts)
        print(
            f"(c) limit {limit / 1e6:.1f} MB: landed at {share:.1%} after {len(attempts)} "
            f"encode(s) [{sizes}] in {t:.1f} s (target 85-100 % in <= 2) "
            f"{'PASS' if ok else 'FAIL'}"
        )
        landed.append((limit, len(attempts), share))
    return landed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work in (and keep) this folder")
    parser.add_argument("--only", choices=["a", "b", "c"], action="append")
    args = parser.parse_args()
    which = set(args.only or ["a", "b", "c"])
    with tempfile.TemporaryDirectory(prefix="preflight-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(f"cores: {os.cpu_count()}; work folder: {work}")
        if "a" in which:
            bench_remux(work)
        if "b" in which:
            bench_4k(work)
        if "c" in which:
            bench_compress(work)


if __name__ == "__main__":
    main()
