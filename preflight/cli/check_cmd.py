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
from preflight.model.errors import ConfigError, ToolNotFoundError

__all__ = ["check_command", "write_atomic"]

FORMAT_NAMES = ["text", "json", "junit", "sarif", "github", "html"]


def write_atomic(path: str, data: str) -> None:
    """Write ``data`` to ``path`` via a temp file beside it and `os.replace`: never half-written."""
    import tempfile

    target = os.path.abspath(path)
    folder = os.path.dirname(target)
    try:
        fd, tmp = tempfile.mkstemp(
            dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".part"
        )
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise


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
@click.option("--jobs", "jobs", metavar="FILE", help="JSONL file, one job per line ('-': stdin).")
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
@click.option("--preview", metavar="PNG", help="Write a contact sheet of the face check's frames.")
@click.option("--fix", "then_fix", is_flag=True, help="Then fix failing inputs (`preflight fix`).")
@click.option("-q", "--quiet", is_flag=True, help="No live progress on the terminal.")
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
    preview: str | None = None,
    quiet: bool = False,
    **request: Any,
) -> None:
    """Check media (and the job's text, voice or audio) against a provider profile.

    Exit status: 0 everything passes; 1 an input breaks an error-level rule or cannot be read
    (warnings too with --strict); 2 usage or configuration error. With --fix, failing inputs are
    then fixed beside themselves (NAME.fixed.mp4) and the status is the fix's: 0 when all were;
    an input whose NAME.fixed.* is newer than it and passes is not encoded again.
    """
    from preflight.checking.check import check
    from preflight.checking.config import load_config
    from preflight.cli.progress import Steps

    if not inputs and jobs is None and not request.get("image"):
        raise click.UsageError("nothing to check: give PATHS, URLS or DIRS, or --jobs FILE")
    config = load_config(config_path)
    try:
        with Steps(enabled=not quiet) as steps:
            report = check(
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
                preview=preview,
                on_progress=steps,
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
