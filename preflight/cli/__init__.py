"""The `preflight` command: a thin click layer over the library.

Subcommands are listed explicitly in ``COMMANDS`` (name -> "module:attribute") and imported only
when used, so `preflight check` never pays for the client or the sandbox.
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
from preflight.model.errors import ConfigError, PreflightError

__all__ = ["main"]

COMMANDS: dict[str, str] = {
    # name: "module:attribute"; keep in the order `preflight --help` should show them
    "check": "preflight.cli.check_cmd:check_command",
    "fix": "preflight.cli.fix_cmd:fix_command",
    "rules": "preflight.cli.rules_cmd:rules_command",
    "probe": "preflight.cli.probe_cmd:probe",
    "submit": "preflight.cli.submit_cmd:submit",
    "jobs": "preflight.cli.submit_cmd:jobs",
    "resume": "preflight.cli.submit_cmd:resume",
    "animate": "preflight.cli.submit_cmd:animate",
    "demo": "preflight.cli.submit_cmd:demo",
    "status": "preflight.cli.tasks_cmd:status_command",
    "tasks": "preflight.cli.tasks_cmd:tasks_command",
    "sandbox": "preflight.cli.sandbox_cmd:sandbox",
}

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use, from an explicit table."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

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
