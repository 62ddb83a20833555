"""The `preflight` command: a thin click layer over the library.

Subcommands are listed explicitly in ``COMMANDS`` (name -> "module:attribute") and imported only
when used, so `preflight check` never pays for the client or the sandbox. ``SUMMARIES`` holds the
one-line help `preflight --help` shows, so listing the commands imports none of them (a test
keeps it equal to each command's own short help).
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import click

from preflight.model.display import printable_lines
from preflight.model.errors import ConfigError, MissingKeyError, PreflightError, UsageError

__all__ = ["examples", "main"]

COMMANDS: dict[str, str] = {
    # name: "module:attribute"; keep in the order `preflight --help` should show them
    "check": "preflight.cli.check_cmd:check_command",
    "fix": "preflight.cli.fix_cmd:fix_command",
    "rules": "preflight.cli.rules_cmd:rules_command",
    "probe": "preflight.cli.probe_cmd:probe",
    "submit": "preflight.cli.submit_cmd:submit",
    "estimate": "preflight.cli.cost_cmd:estimate_command",
    "jobs": "preflight.cli.submit_cmd:jobs",
    "resume": "preflight.cli.submit_cmd:resume",
    "animate": "preflight.cli.submit_cmd:animate",
    "demo": "preflight.cli.submit_cmd:demo",
    "status": "preflight.cli.tasks_cmd:status_command",
    "tasks": "preflight.cli.tasks_cmd:tasks_command",
    "sandbox": "preflight.cli.sandbox_cmd:sandbox",
    "voices": "preflight.cli.rules_cmd:voices_command",
}

SUMMARIES: dict[str, str] = {
    # name: the command's short help (first sentence of its docstring), as `preflight --help`
    # lists it; a command missing here is imported to ask it (slower, still right)
    "check": "Check media (and the job's text, voice or audio) against a provider profile.",
    "fix": "Fix INPUT... so it passes the profile, with the cheapest FFmpeg operation that works.",
    "rules": "List the rules: with --profile, each rule's limits, severity and source; without, "
    "the documentation of every registered rule.",
    "probe": "Probe media files or http(s) URLs and print their facts.",
    "submit": "Check, fix, host, submit, wait for and download one lip-sync job (or --jobs FILE).",
    "estimate": "Estimate what submit would cost for each job and in total; sends nothing.",
    "jobs": "List the jobs in the ledger (or `jobs rm ID`, `jobs cancel ID`).",
    "resume": "Continue JOB (an id or a unique prefix), or every unfinished job in the ledger.",
    "animate": "Make a talking video from IMAGE: image2video with --prompt, then lip-sync it.",
    "demo": "Run the whole job on a local sandbox: no keys, no network.",
    "status": "Show one task: its status, reason and result videos.",
    "tasks": "List recent tasks, newest first.",
    "sandbox": "Serve a local stand-in for Kling's API, WaveSpeedAI and fal (loopback only) "
    "until Ctrl-C.",
    "voices": "List the voice ids a profile accepts for --text, with their language.",
}


def examples(*lines: str) -> str:
    """A command's epilog: ``Examples:`` and one command a line, kept as written by click."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


_PROVIDER_NAMES = {"kling": "Kling", "wavespeed": "WaveSpeed", "fal": "fal"}


def missing_key_message(exc: MissingKeyError) -> str:
    """What to do about missing keys, in the CLI's terms: environment variables and flags."""
    names = " and ".join(exc.env)
    who = _PROVIDER_NAMES.get(exc.provider, exc.provider)
    return (
        f"{who} needs its key{'s' if len(exc.env) > 1 else ''}: set {names} in the "
        f"environment (e.g. `export {exc.env[0]}=...`); --provider chooses another provider, "
        "and `preflight demo` runs the whole job against a local sandbox with no keys"
    )


EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use, from an explicit table."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from `SUMMARIES`, importing only commands missing from it."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = []
        for name in COMMANDS:
            summary = SUMMARIES.get(name)
            if summary is None:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                summary = command.get_short_help_str(limit)
            # shortened exactly as click shortens a command's own help
            rows.append((name, click.Command(name, help=summary).get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        with _terminate_like_ctrl_c():
            return self._invoke(ctx)

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MissingKeyError as exc:
            click.secho(f"preflight: {missing_key_message(exc)}", fg="red", err=True)
            ctx.exit(EXIT_USAGE)
        except UsageError as exc:
            click.secho(f"preflight: usage error: {exc}", fg="red", err=True)
            ctx.exit(EXIT_USAGE)
        except ConfigError as exc:
            click.secho(
                f"preflight: configuration error: {printable_lines(str(exc))}", fg="red", err=True
            )
            ctx.exit(EXIT_USAGE)
        except PreflightError as exc:
            click.secho(f"preflight: {printable_lines(str(exc))}", fg="red", err=True)
            ctx.exit(EXIT_FAIL)
        except KeyboardInterrupt:
            click.secho("preflight: interrupted; nothing half-written was left behind", err=True)
            ctx.exit(130)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _terminate_like_ctrl_c() -> Iterator[None]:
    """``kill`` (SIGTERM) cleans up like Ctrl-C: temp files and downloads are removed, FFmpeg
    children are killed. Python's default for SIGTERM is to die at once and run no ``finally``.
    (A command may install its own handler; ``kill -9`` is left to the next run's sweep.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="media-preflight", prog_name="preflight")
def main() -> None:
    """Check media for Kling's lip-sync API, fix what fails, and submit what passes."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
