"""`preflight check`: the CI gate, a thin layer over `preflight.check`. Exit 0/1/2.

Heavy imports (probe backends, renderers) happen inside the command, so start-up stays light.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import click

from preflight.cli import examples
from preflight.cli.url_timeout import apply_url_timeout, url_timeout_option
from preflight.model.errors import ConfigError, ToolNotFoundError

__all__ = ["check_command", "write_atomic"]

FORMAT_NAMES = ["text", "json", "junit", "sarif", "github", "html"]


def write_atomic(path: str, data: str) -> None:
    """Write ``data`` to ``path`` whole (`preflight.model.atomic`): never half-written."""
    from preflight.model import atomic

    try:
        atomic.write_atomic(os.path.abspath(path), data)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc


def pick_format(fmt: str | None) -> str:
    """The requested format; by default ``github`` inside GitHub Actions, else ``text``."""
    if fmt:
        return fmt
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"


@click.command(
    "check",
    epilog=examples(
        "preflight check clip.mp4",
        "preflight check videos/ --format html -o report.html",
        'preflight check clip.mp4 --text "Hello" --voice-id genshin_klee2 --voice-language en',
    ),
)
@click.argument("inputs", nargs=-1, metavar="[PATHS|URLS|DIRS]...")
@click.option(
    "-p",
    "--profile",
    metavar="NAME|FILE",
    help="Profile name (see `preflight rules`) or a .toml path.",
)
@click.option(
    "--audio", metavar="FILE|URL", help="Audio file or URL (audio-to-video), used with every input."
)
@click.option("--text", help="Text to speak (text-to-video).")
@click.option("--voice-id", help="Voice id for --text.")
@click.option("--voice-language", metavar="zh|en", help="Voice language for --text.")
@click.option("--voice-speed", type=float, help="Voice speed for --text (0.8-2.0).")
@click.option("--image", metavar="FILE|URL", help="Image file or URL (image-to-video profiles).")
@click.option("--prompt", help="Prompt (image-to-video profiles).")
@click.option("--negative-prompt", help="Negative prompt (image-to-video profiles).")
@click.option(
    "--jobs",
    "jobs",
    metavar="FILE",
    help="Jobs file: JSONL, or CSV with a header row ('-': stdin). See docs/check.md.",
)
@click.option("--include", multiple=True, metavar="GLOB", help="Files to take from directories.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Files to skip in directories.")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMAT_NAMES),
    help="Output format [default: text; github when GITHUB_ACTIONS=true]; html: one page "
    "with each input's frames and face timeline.",
)
@click.option("-o", "--output", metavar="FILE", help="Write the report here (atomically).")
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@click.option("--no-cache", is_flag=True, help="Probe every file afresh.")
@click.option(
    "--backend",
    type=click.Choice(["auto", "mediainfo", "ffprobe"]),
    default="auto",
    show_default=True,
    help="Probe backend.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Parallel probes [default: CPUs].")
@click.option("--config", "config_path", metavar="FILE", help="preflight.toml or pyproject.toml.")
@click.option("--no-face", "no_face", is_flag=True, help="Skip the face checks (faster).")
@click.option(
    "--face",
    "force_face",
    is_flag=True,
    help="Run the face checks even on inputs that already fail for good (skipped by default).",
)
@click.option("--preview", metavar="PNG", help="Write a contact sheet of the face check's frames.")
@click.option("--fix", "then_fix", is_flag=True, help="Then fix failing inputs (`preflight fix`).")
@click.option(
    "--engine",
    type=click.Choice(["serial", "local", "dask"]),
    help="Run the per-file work in this process, a process pool, or on Dask (docs/scale.md).",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    help="A running Dask scheduler [default: $PREFLIGHT_SCHEDULER]; implies --engine dask.",
)
@click.option("-q", "--quiet", is_flag=True, help="No live progress on the terminal.")
@url_timeout_option
@click.pass_context
def check_command(
    ctx: click.Context,
    /,
    inputs: tuple[str, ...],
    profile: str | None,
    jobs: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    fmt: str | None,
    output: str | None,
    strict: bool,
    no_cache: bool,
    backend: str,
    workers: int | None,
    config_path: str | None,
    then_fix: bool,
    no_face: bool = False,
    force_face: bool = False,
    preview: str | None = None,
    engine: str | None = None,
    scheduler: str | None = None,
    quiet: bool = False,
    url_timeout: float | None = None,
    **request: Any,
) -> None:
    """Check media (and the job's text, voice or audio) against a provider profile.

    Exit status: 0 everything passes; 1 an input breaks an error-level rule or cannot be read
    (warnings too with --strict); 2 usage or configuration error. With --fix, failing inputs are
    then fixed beside themselves (NAME.fixed.mp4) and the status is the fix's: 0 only when every
    failing input was fixed; an unreadable or unfixable input is counted and makes it 1; an
    input whose NAME.fixed.* is newer than it and passes is not encoded again.
    """
    from preflight.checking.check import check
    from preflight.checking.config import load_config
    from preflight.cli.progress import Steps

    if no_face and force_face:
        raise click.UsageError("--face and --no-face contradict each other: give one")
    if not inputs and jobs is None and not request.get("image"):
        raise click.UsageError("nothing to check: give PATHS, URLS or DIRS, or --jobs FILE")
    config = load_config(config_path)
    if url_timeout is not None:  # else there is nothing to set, and the URL reader stays unloaded
        apply_url_timeout(url_timeout)
    try:
        with Steps(enabled=not quiet) as steps:
            run: Any = check
            extra: dict[str, Any] = {"on_progress": steps}
            s3_inputs = any(i.lower().startswith("s3://") for i in inputs)  # only engines read S3
            if engine or scheduler or os.environ.get("PREFLIGHT_SCHEDULER") or s3_inputs:
                run, extra = _on_engine(engine, scheduler, workers, quiet), {}
            report = run(
                inputs,
                profile or config.profile or "kling-lipsync",
                jobs=jobs,
                include=include,
                exclude=exclude,
                config=config,
                strict=strict,
                backend=backend,
                cache=not no_cache,
                workers=workers,
                face=not no_face,
                force_face=force_face,
                preview=preview,
                **extra,
                **request,
            )
    except ToolNotFoundError as exc:  # e.g. --backend ffprobe with no ffprobe: a usage problem
        raise ConfigError(str(exc)) from exc
    chosen = pick_format(fmt)
    if output:
        write_atomic(output, _rendered(report, chosen))
        if chosen != "text":
            click.echo(_rendered(report, "text", color=_tty(sys.stderr)), err=True, nl=False)
    else:
        color = chosen == "text" and _tty(sys.stdout)
        click.echo(_rendered(report, chosen, color=color), nl=False, color=color)
    if then_fix and not report.ok:
        from preflight.cli.fix_cmd import fix_failing

        chosen_profile = profile or config.profile or "kling-lipsync"
        ctx.exit(fix_failing(report, chosen_profile, config, quiet=quiet, face=not no_face))
    ctx.exit(report.exit_code)


def _on_engine(engine: str | None, scheduler: str | None, workers: int | None, quiet: bool) -> Any:
    """`check` with the per-file work on an engine (`preflight.engines`), with a progress line."""
    from preflight.cli.progress import Progress
    from preflight.engines import check_batch, resolve_engine

    chosen = resolve_engine(engine, scheduler, workers)

    def run(inputs: Any, profile: Any, *, workers: int | None, **kwargs: Any) -> Any:
        with contextlib.ExitStack() as stack:
            bars: list[Progress] = []

            def planned(total: int) -> None:  # the bar starts once the jobs are known
                bars.append(stack.enter_context(Progress(total, "check", enabled=not quiet)))

            return check_batch(
                inputs,
                profile,
                engine=chosen,
                on_planned=planned,
                on_result=lambda n: bars[0].advance(n),
                **kwargs,
            )

    return run


def _rendered(report: Any, fmt: str, *, color: bool = False) -> str:
    """``report`` in ``fmt``; for html, with each input's thumbnail strip (FFmpeg runs here)."""
    from preflight.report import render

    if fmt != "html":
        return render(report, fmt, color=color)
    from preflight.report.html import render as render_html
    from preflight.report.thumbnails import report_thumbnails

    thumbs = report_thumbnails((r.name, r.facts) for r in report.results)
    return render_html(report, thumbs=thumbs)


def _tty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("NO_COLOR") is None
