"""`preflight fix`: make inputs pass a profile, a thin layer over `preflight.fix`. Exit 0/1/2.

Exit status: 0 every output passes (or the input already did); 1 an input cannot be made
compliant (its reason is printed, no output file is left); 2 usage or configuration error;
130 interrupted (FFmpeg stopped, temp files removed, inputs untouched).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

import click

from preflight.cli import examples
from preflight.cli.fix_render import render_plan, render_result

__all__ = ["fix_command"]


@click.command(
    "fix",
    epilog=examples(
        "preflight fix clip.mp4",
        "preflight fix videos/ --out-dir fixed/ --format html > fixes.html",
        "preflight fix clip.mp4 --dry-run",
    ),
)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", metavar="OUT", help="Output file (one input only).")
@click.option("--out-dir", metavar="DIR", help="Write outputs here (compliant inputs are skipped).")
@click.option("-p", "--profile", help="Profile name (see `preflight rules`) or a .toml path.")
@click.option(
    "--dry-run", is_flag=True, help="Print the plan and the FFmpeg commands; run nothing."
)
@click.option("--start", type=click.FloatRange(min=0), help="Keep the clip from this second.")
@click.option("--end", type=click.FloatRange(min=0), help="Keep the clip up to this second.")
@click.option(
    "--extend",
    type=click.Choice(["freeze", "loop"]),
    default="freeze",
    show_default=True,
    help="How a too-short clip is lengthened: freeze the last frame, or loop the clip.",
)
@click.option(
    "--aspect",
    type=click.Choice(["pad", "crop"]),
    default="pad",
    show_default=True,
    help="When no scale fits the size window: pad with black bars, or crop (centred).",
)
@click.option("--fit-audio", is_flag=True, help="Trim or pad the audio to the video's length.")
@click.option(
    "--face-window",
    is_flag=True,
    help="Trim to the longest stretch that passes every face check (needs the vision extra).",
)
@click.option(
    "--audio",
    metavar="FILE",
    help="With --fit-audio: an audio2video audio file, fitted to the (fixed) video; a longer "
    "audio lengthens the video within the limit.",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    show_default=True,
    help="How results are printed; html: one page with before/after frames (redirect it).",
)
@click.option("--jobs", type=click.IntRange(min=1), help="Inputs fixed at once [default: CPUs].")
@click.option("--preset", default="fast", show_default=True, help="libx264 preset.")
@click.option(
    "--crf",
    type=click.IntRange(0, 51),
    default=20,
    show_default=True,
    help="libx264 quality of re-encodes (lower: better and larger).",
)
@click.option("--no-quality", is_flag=True, help="Skip the SSIM measurement of re-encodes.")
@click.option("--timeout", type=click.FloatRange(min=1), help="Seconds per FFmpeg run.")
@click.option("--config", "config_path", metavar="FILE", help="preflight.toml or pyproject.toml.")
@click.option("-v", "--verbose", is_flag=True, help="Log every FFmpeg command line to stderr.")
@click.option("-q", "--quiet", is_flag=True, help="No live progress on the terminal.")
@click.pass_context
def fix_command(
    ctx: click.Context,
    /,
    inputs: tuple[str, ...],
    output: str | None,
    out_dir: str | None,
    profile: str | None,
    dry_run: bool,
    start: float | None,
    end: float | None,
    extend: str,
    aspect: str,
    fit_audio: bool,
    audio: str | None,
    fmt: str,
    jobs: int | None,
    preset: str,
    crf: int,
    no_quality: bool,
    timeout: float | None,
    config_path: str | None,
    verbose: bool = False,
    face_window: bool = False,
    quiet: bool = False,
) -> None:
    """Fix INPUT... so it passes the profile, with the cheapest FFmpeg operation that works.

    Containers are remuxed without re-encoding when the codecs allow it; anything else is one
    re-encode pass (trim, extend, scale, pad or crop, tone-map, compress to size). Every output
    is probed and checked against the same profile before it is moved into place. A directory
    INPUT stands for the media files inside it (as `preflight check DIR` finds them).
    """
    from preflight.checking.config import load_config
    from preflight.fixing import FixOptions, fix_many, fix_pair, plan_fix, plan_pair
    from preflight.rules.profiles import load_profile

    if output and out_dir:
        raise click.UsageError("give -o/--output or --out-dir, not both")
    inputs = _expand(inputs)
    if verbose:
        _log_commands()
    if output and len(inputs) > 1:
        raise click.UsageError("-o/--output takes one input; use --out-dir for several")
    if audio is not None and (not fit_audio or len(inputs) != 1):
        raise click.UsageError("--audio takes one video INPUT and --fit-audio")
    if start is not None and end is not None and end <= start:
        raise click.UsageError(f"--end {end:g} must be after --start {start:g}")
    config = load_config(config_path)
    prof = load_profile(profile or config.profile or "kling-lipsync")
    if out_dir and not dry_run:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    options = FixOptions(
        start=start,
        end=end,
        extend=extend,  # type: ignore[arg-type]
        aspect=aspect,  # type: ignore[arg-type]
        fit_audio=fit_audio,
        preset=preset,
        crf=crf,
        quality=not no_quality,
        timeout=timeout,
    )
    workers = max(1, min(jobs or os.cpu_count() or 1, len(inputs)))
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    common: dict[str, Any] = {
        "profile": prof,
        "options": options,
        "config": config,
        "threads": threads,
        "out_dir": out_dir,
    }
    if face_window:
        from preflight.cli.face_window import fix_face_windows

        if start is not None or end is not None:
            raise click.UsageError("--face-window chooses --start/--end itself: give neither")
        ctx.exit(fix_face_windows(inputs, output=output, dry_run=dry_run, fmt=fmt, **common))
    if dry_run:
        if audio is not None:
            del common["threads"]
            plans = list(plan_pair(inputs[0], audio, output=output, **common))
        else:
            plans = [plan_fix(src, output=output, **common) for src in inputs]
        if fmt == "json":
            click.echo(json.dumps({"plans": [p.to_dict() for p in plans]}, indent=2))
        else:
            for plan in plans:
                click.echo(render_plan(plan))
        ctx.exit(0 if all(p.strategy.value != "unfixable" for p in plans) else 1)

    from preflight.cli.progress import Progress

    show_progress = len(inputs) == 1 and fmt == "text" and not quiet
    bar = Progress(len(inputs), "fixing", enabled=len(inputs) > 1 and not quiet)

    def done(result: Any) -> None:
        if fmt == "text":
            bar.line(render_result(result))
        bar.advance()

    previous = signal.signal(signal.SIGTERM, _interrupt)  # `kill` cleans up like Ctrl-C
    try:
        with bar:
            if audio is not None:
                del common["threads"]
                results = list(
                    fix_pair(inputs[0], audio, output=output, show_progress=show_progress, **common)
                )
                for result in results:
                    done(result)
            else:
                results = fix_many(
                    list(inputs),
                    jobs=workers,
                    on_done=done,
                    output=output,
                    show_progress=show_progress,
                    **common,
                )
    except KeyboardInterrupt:
        click.secho(
            "preflight fix: interrupted; FFmpeg was stopped, its temp output removed, and no "
            "output file was written (inputs are untouched)",
            fg="red",
            err=True,
        )
        ctx.exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if fmt == "json":
        click.echo(
            json.dumps(
                {"results": [r.to_dict() for r in results], "summary": _summary(results)}, indent=2
            )
        )
    elif fmt == "html":
        from preflight.report.html import render_fix
        from preflight.report.thumbnails import fix_frames

        click.echo(render_fix(results, frames=fix_frames(results)), nl=False)
    else:
        click.echo(_summary_line(results))
    ctx.exit(0 if all(r.ok for r in results) else 1)


def _expand(inputs: Sequence[str]) -> tuple[str, ...]:
    """``inputs`` with each directory replaced by the media files inside it (sorted)."""
    from preflight.checking.check import DEFAULT_INCLUDE, OWN_OUTPUTS, walk

    expanded: list[str] = []
    for item in inputs:
        if not os.path.isdir(item):
            expanded.append(item)
            continue
        files, problems = walk(item, DEFAULT_INCLUDE["video"], (), skip=OWN_OUTPUTS)
        for _, message in problems:
            click.echo(f"preflight fix: {message}", err=True)
        if not files and not problems:
            raise click.UsageError(f"directory {item} has no video files to fix")
        expanded += files
    return tuple(expanded)


def _log_commands() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("preflight.ffmpeg")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _summary(results: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    counts["total"] = len(results)
    return counts


def _summary_line(results: Sequence[Any]) -> str:
    counts = _summary(results)
    parts = [
        f"{counts.get(k, 0)} {k}"
        for k in ("fixed", "copied", "skipped", "unfixable", "failed")
        if counts.get(k)
    ]
    verdict = "all pass" if all(r.ok for r in results) else "some inputs could not be fixed"
    return f"summary: {', '.join(parts) or 'nothing to do'} ({counts['total']} inputs): {verdict}"


def fix_failing(
    report: Any, profile: str, config: Any, *, quiet: bool = False, face: bool = True
) -> int:
    """`preflight check --fix`: fix every failing input of ``report`` beside itself (to stderr).

    Returns the exit status: 0 when every failing input was fixed (its output passes), else 1.
    """
    from preflight.fixing import fix_many

    sources: list[str] = []
    for result in report.results:
        if result.ok:
            continue
        for role, facts in result.facts.items():
            failing = [f for f in result.findings if f.rule.startswith(f"{role}.")]
            if role in ("video", "audio") and failing and facts.source not in sources:
                sources.append(facts.source)
    if not sources:
        click.echo("preflight check --fix: nothing the fixer can change", err=True)
        return 1
    sources, ready = _already_fixed(sources, profile, config, face=face)
    for source, target in ready:
        click.echo(
            f"{source} -> {target}: already fixed (the output is there and passes)", err=True
        )
    if not sources:
        return 0
    from preflight.cli.progress import Progress

    click.echo(f"preflight check --fix: fixing {len(sources)} input(s)", err=True)
    with Progress(len(sources), "fixing", enabled=len(sources) > 1 and not quiet) as bar:

        def done(result: Any) -> None:
            bar.line(render_result(result), err=True)
            bar.advance()

        results = fix_many(sources, profile=profile, config=config, on_done=done)
    click.echo(_summary_line(results), err=True)
    return 0 if all(r.ok for r in results) else 1


def _already_fixed(
    sources: list[str], profile: str, config: Any, *, face: bool
) -> tuple[list[str], list[tuple[str, str]]]:
    """Split ``sources`` into those still to fix and (source, output) pairs whose default output
    (``NAME.fixed.*`` beside it) is newer than the source and passes ``profile``: re-running
    ``check --fix`` on a folder must not pay for the same encode twice."""
    from preflight.checking.check import check

    candidates: dict[str, str] = {}
    for source in sources:
        path = Path(source)
        if not path.is_file():
            continue
        made = [
            p
            for p in sorted(path.parent.glob(f"{glob_escape(path.stem)}.fixed.*"))
            if not p.name.startswith(".") and p.stat().st_mtime >= path.stat().st_mtime
        ]
        if made:
            candidates[source] = str(made[0])
    if not candidates:
        return sources, []
    report = check(list(candidates.values()), profile, config=config, cache=False, face=face)
    passing = {r.name for r in report.results if r.ok}
    ready = [(s, t) for s, t in candidates.items() if t in passing]
    done = {s for s, _ in ready}
    return [s for s in sources if s not in done], ready
