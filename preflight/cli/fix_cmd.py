"""`preflight fix`: make inputs pass a profile, a thin layer over `preflight.fix`. Exit 0/1/2.

Exit status: 0 every output passes (or the input already did); 1 an input is missing,
unreadable or cannot be made compliant (its reason is printed, no output file is left); 2 usage
or configuration error; 130 interrupted (FFmpeg stopped, temp files removed, inputs untouched).
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
from preflight.cli.url_timeout import apply_url_timeout, url_timeout_option

__all__ = ["fix_command"]


@click.command(
    "fix",
    epilog=examples(
        "preflight fix clip.mp4",
        "preflight fix videos/ --out-dir fixed/ --format html > fixes.html",
        "preflight fix --jobs jobs.jsonl --workers 4",
    ),
)
@click.argument("inputs", nargs=-1, metavar="INPUT...")
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
@click.option(
    "--jobs",
    "jobs",
    metavar="FILE",
    help="Jobs file (JSONL or CSV, the schema `check` and `submit` read): fix each line's media.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Inputs fixed at once [default: CPUs].")
@click.option("--no-face", "no_face", is_flag=True, help="Skip the face checks of the proof.")
@click.option("--preset", default="veryfast", show_default=True, help="libx264 preset.")
@click.option(
    "--crf",
    type=click.IntRange(0, 51),
    default=23,
    show_default=True,
    help="libx264 quality of re-encodes (lower: better and larger).",
)
@click.option("--no-quality", is_flag=True, help="Skip the SSIM measurement of re-encodes.")
@click.option("--timeout", type=click.FloatRange(min=1), help="Seconds per FFmpeg run.")
@click.option("--config", "config_path", metavar="FILE", help="preflight.toml or pyproject.toml.")
@click.option("-v", "--verbose", is_flag=True, help="Log every FFmpeg command line to stderr.")
@click.option(
    "--engine",
    type=click.Choice(["serial", "local", "dask"]),
    help="Run the fixes in this process, a process pool, or on Dask (docs/scale.md).",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    help="A running Dask scheduler [default: $PREFLIGHT_SCHEDULER]; implies --engine dask.",
)
@click.option(
    "--no-resume", is_flag=True, help="With an engine and --out-dir: redo inputs already done."
)
@click.option("-q", "--quiet", is_flag=True, help="No live progress on the terminal.")
@url_timeout_option
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
    jobs: str | None,
    workers: int | None,
    preset: str,
    crf: int,
    no_quality: bool,
    timeout: float | None,
    config_path: str | None,
    verbose: bool = False,
    face_window: bool = False,
    no_face: bool = False,
    engine: str | None = None,
    scheduler: str | None = None,
    no_resume: bool = False,
    quiet: bool = False,
    url_timeout: float | None = None,
) -> None:
    """Fix INPUT... so it passes the profile, with the cheapest FFmpeg operation that works.

    Containers are remuxed without re-encoding when the codecs allow it; anything else is one
    re-encode pass (trim, extend, scale, pad or crop, tone-map, compress to size). Every output
    is probed and checked against the same profile, face rules included, before it is moved
    into place. --jobs FILE fixes the media of each line of a jobs file (outputs beside the
    inputs, or in --out-dir; a line's `out` is submit's result path, not a fix output). A
    directory INPUT stands for the media files inside it (as `preflight check DIR` finds them).
    """
    from preflight.checking.config import load_config
    from preflight.fixing import FixOptions, plan_fix, plan_pair
    from preflight.rules.profiles import load_profile

    workers = _workers(jobs, workers)
    if jobs is not None and workers is not None and jobs.isdigit():
        jobs = None  # the old worker count, read above
    job_profiles: dict[str, str | None] = {}
    if jobs is not None:
        if inputs:
            raise click.UsageError("give INPUT... or --jobs FILE, not both")
        if output or audio is not None or face_window:
            raise click.UsageError("--jobs FILE takes neither -o, --audio nor --face-window")
        inputs, job_profiles = _jobs_inputs(jobs)
    inputs = _expand(inputs)
    if not inputs:
        raise click.UsageError("give INPUT... (files to fix) or --jobs FILE")
    if output and out_dir:
        raise click.UsageError("give -o/--output or --out-dir, not both")
    if verbose:
        _log_commands()
    if output and len(inputs) > 1:
        raise click.UsageError("-o/--output takes one input; use --out-dir for several")
    if audio is not None and (not fit_audio or len(inputs) != 1):
        raise click.UsageError("--audio takes one video INPUT and --fit-audio")
    if start is not None and end is not None and end <= start:
        raise click.UsageError(f"--end {end:g} must be after --start {start:g}")
    apply_url_timeout(url_timeout)
    config = load_config(config_path)
    prof = load_profile(profile or config.profile or "kling-lipsync")
    local_only = audio is not None or face_window or dry_run  # these stay in this process
    if (engine or scheduler) and local_only:
        raise click.UsageError("--engine/--scheduler fix independent inputs: no --audio, "
                               "--face-window or --dry-run")  # fmt: skip
    on_s3 = any(i.lower().startswith("s3://") for i in (*inputs, out_dir or ""))  # engines only
    on_engine = bool(
        engine or scheduler or ((os.environ.get("PREFLIGHT_SCHEDULER") or on_s3) and not local_only)
    )
    if out_dir and not dry_run and not out_dir.startswith("s3://"):
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
        face=not no_face,
    )
    workers = max(1, min(workers or os.cpu_count() or 1, len(inputs)))
    threads = None  # each FFmpeg uses every core: see fix_many (pinning left cores idle)
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
            plans = [
                plan_fix(src, output=output, **_own(common, job_profiles.get(src)))
                for src in inputs
            ]
        if fmt == "json":
            click.echo(json.dumps({"plans": [p.to_dict() for p in plans]}, indent=2))
        else:
            for plan in plans:
                click.echo(render_plan(plan))
        ctx.exit(0 if all(p.strategy.value != "unfixable" for p in plans) else 1)

    if on_engine:
        ctx.exit(
            _fix_on_engine(inputs, engine, scheduler, workers, not no_resume, fmt, quiet, **common)
        )
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
            results = _run_fixes(
                inputs, audio, job_profiles, common,
                workers=workers, output=output, show_progress=show_progress, done=done,
            )  # fmt: skip
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


def _run_fixes(
    inputs: Sequence[str],
    audio: str | None,
    job_profiles: dict[str, str | None],
    common: dict[str, Any],
    *,
    workers: int,
    output: str | None,
    show_progress: bool,
    done: Any,
) -> list[Any]:
    """Fix every input (or the one video with ``audio``), each group under its own profile."""
    from preflight.fixing import fix_many, fix_pair

    if audio is not None:
        del common["threads"]
        results = list(
            fix_pair(inputs[0], audio, output=output, show_progress=show_progress, **common)
        )
        for result in results:
            done(result)
        return results
    results = []
    for name, group in _by_profile(inputs, job_profiles).items():
        results += fix_many(
            group,
            jobs=workers,
            on_done=done,
            output=output,
            show_progress=show_progress,
            **_own(common, name),
        )
    return results


def _fix_on_engine(
    inputs: Sequence[str],
    engine: str | None,
    scheduler: str | None,
    workers: int | None,
    resume: bool,
    fmt: str,
    quiet: bool,
    *,
    profile: Any,
    options: Any,
    config: Any,
    out_dir: str | None,
    threads: int | None,
) -> int:
    """`preflight fix --engine/--scheduler`: the inputs as items (`preflight.engines.fix_batch`)."""
    from preflight.checking.resolve import DEFAULT_INCLUDE
    from preflight.cli.progress import Progress
    from preflight.engines import fix_batch, resolve_engine
    from preflight.engines.batch import expand_s3

    chosen = resolve_engine(engine, scheduler, workers)
    inputs = expand_s3(inputs, media=DEFAULT_INCLUDE["video"])  # s3://B/P/: the videos under it
    with Progress(len(inputs), "fixing", enabled=fmt == "text" and not quiet) as bar:

        def done(result: Any) -> None:
            if fmt == "text":
                click.echo(render_result(result))
            bar.advance()

        results = fix_batch(
            list(inputs),
            profile=profile,
            options=options,
            config=config,
            out_dir=out_dir,
            engine=chosen,
            resume=resume,
            on_result=done,
        )
    if fmt == "json":
        body = {"results": [r.to_dict() for r in results], "summary": _summary(results)}
        click.echo(json.dumps(body, indent=2))
    else:
        click.echo(_summary_line(results))
    return 0 if all(r.ok for r in results) else 1


def _expand(inputs: Sequence[str]) -> tuple[str, ...]:
    """``inputs`` with each directory replaced by the media files inside it (sorted)."""
    from preflight.checking.resolve import DEFAULT_INCLUDE, OWN_OUTPUTS, walk

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


def _workers(jobs: str | None, workers: int | None) -> int | None:
    """``--workers N``, or the old ``--jobs N`` (kept for a release, with a note on stderr)."""
    if jobs is None or not jobs.isdigit():
        return workers
    if workers is not None:
        raise click.UsageError("give --workers N (not the old --jobs N as well)")
    click.echo(
        "preflight fix: --jobs N is deprecated and will mean a jobs file only; use --workers N",
        err=True,
    )
    if int(jobs) < 1:
        raise click.UsageError("--workers must be at least 1")
    return int(jobs)


def _jobs_inputs(path: str) -> tuple[tuple[str, ...], dict[str, str | None]]:
    """The media of every line of a jobs file, and the profile each line names (or None).

    A line that is not a valid job is a usage problem of the file here: fix has no report to
    carry it in, so it stops before anything is encoded.
    """
    from preflight.checking.jobsfile import read_jobs_file
    from preflight.checking.resolve import profile_for
    from preflight.model.errors import ConfigError

    jobs = read_jobs_file(path)
    bad = [f"{jobs.label}:{line.lineno}: {line.error}" for line in jobs.lines if line.spec is None]
    if bad:
        raise ConfigError("; ".join(bad))
    sources: dict[str, str | None] = {}
    for line in jobs.lines:
        assert line.spec is not None
        spec = line.spec
        profile = spec.profile
        if profile is None and spec.provider is not None:
            profile = profile_for(spec.provider, "audio" if spec.audio else "text")
        for source in (spec.video, spec.audio):
            if source is not None:
                sources.setdefault(source, profile)
    if not sources:
        raise ConfigError(f"jobs file {jobs.label} names no video or audio to fix")
    return tuple(sources), sources


def _by_profile(
    inputs: Sequence[str], profiles: dict[str, str | None]
) -> dict[str | None, list[str]]:
    groups: dict[str | None, list[str]] = {}
    for source in inputs:
        groups.setdefault(profiles.get(source), []).append(source)
    return groups


def _own(common: dict[str, Any], profile: str | None) -> dict[str, Any]:
    """``common`` with a jobs line's own profile in place of the run's."""
    if profile is None:
        return common
    from preflight.rules.profiles import load_profile

    return {**common, "profile": load_profile(profile)}


def _log_commands() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("preflight.ffmpeg")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _summary(results: Sequence[Any], extra: dict[str, int] | None = None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    for status, count in (extra or {}).items():
        if count:
            counts[status] = counts.get(status, 0) + count
    counts["total"] = len(results) + sum((extra or {}).values())
    return counts


def _summary_line(results: Sequence[Any], extra: dict[str, int] | None = None) -> str:
    """``summary: 2 fixed, 1 unreadable (3 inputs): ...``; ``extra`` counts inputs that never
    reached the fixer (``unreadable``, ``unfixable`` by rules the fixer cannot change)."""
    counts = _summary(results, extra)
    parts = [
        f"{counts.get(k, 0)} {k}"
        for k in ("fixed", "copied", "skipped", "unreadable", "unfixable", "failed")
        if counts.get(k)
    ]
    bad = sum(not r.ok for r in results) + sum((extra or {}).values())
    verdict = "all pass" if not bad else f"{bad} input{'s' if bad != 1 else ''} could not be fixed"
    return f"summary: {', '.join(parts) or 'nothing to do'} ({counts['total']} inputs): {verdict}"


def fix_failing(
    report: Any, profile: str, config: Any, *, quiet: bool = False, face: bool = True
) -> int:
    """`preflight check --fix`: fix every failing input of ``report`` beside itself (to stderr).

    An input that cannot be read, or that fails a rule the fixer cannot change (a text, voice,
    job or face rule), is counted as ``unreadable`` or ``unfixable`` and never handed to FFmpeg.
    Returns the exit status: 0 only when every failing input was fixed (its output passes the
    same verdict, face rules included), else 1.
    """
    from preflight.fixing import FixOptions, fix_many

    sources: list[str] = []
    extra = {"unreadable": 0, "unfixable": 0}
    for result in report.results:
        if result.ok:
            continue
        # what made the check fail: errors, and with --strict warnings too
        blocking = ("error", "warning") if report.strict else ("error",)
        errors = [f for f in result.findings if f.severity.value in blocking]
        unreadable = [f for f in errors if f.rule == "input.readable"]
        media_roles = [r for r in ("video", "audio") if r in result.facts]
        stuck = [f for f in errors if f.rule.split(".")[0] not in (*media_roles, "input")]
        if unreadable or stuck:
            kind = "unreadable" if unreadable else "unfixable"
            extra[kind] += 1
            why = "; ".join(f"{f.rule}: {f.message}" for f in (unreadable or stuck))
            click.echo(f"{result.name}: {kind} ({why})", err=True)
            continue
        for role in media_roles:
            facts = result.facts[role]
            failing = [f for f in result.findings if f.rule.startswith(f"{role}.")]
            if failing and facts.source not in sources:
                sources.append(facts.source)
    sources, ready = _already_fixed(sources, profile, config, face=face)
    for source, target in ready:
        click.echo(
            f"{source} -> {target}: already fixed (the output is there and passes)", err=True
        )
    results: list[Any] = []
    if sources:
        from preflight.cli.progress import Progress

        click.echo(f"preflight check --fix: fixing {len(sources)} input(s)", err=True)
        with Progress(len(sources), "fixing", enabled=len(sources) > 1 and not quiet) as bar:

            def done(result: Any) -> None:
                bar.line(render_result(result), err=True)
                bar.advance()

            results = fix_many(
                sources,
                profile=profile,
                config=config,
                options=FixOptions(face=face),
                on_done=done,
            )
    elif not ready and not any(extra.values()):
        click.echo("preflight check --fix: nothing the fixer can change", err=True)
        return 1
    click.echo(_summary_line(results, extra), err=True)
    return 0 if all(r.ok for r in results) and not any(extra.values()) else 1


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
