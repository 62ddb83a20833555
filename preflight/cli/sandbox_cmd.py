"""`preflight sandbox`: serve the loopback Kling + WaveSpeed + fal look-alike until Ctrl-C."""

from __future__ import annotations

import signal
import threading

import click

from preflight.cli import examples
from preflight.sandbox import Faults, Sandbox, SandboxConfig

__all__ = ["sandbox"]


@click.command(
    "sandbox",
    epilog=examples(
        "preflight sandbox --port 8000",
        "preflight sandbox --clock-scale 10",
        "preflight sandbox --fail-every 3 --max-open-tasks 2",
    ),
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Loopback address to bind (127.0.0.1, ::1 or localhost only).",
)
@click.option(
    "--port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on; 0 picks a free one.",
)
@click.option(
    "--submitted-seconds",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0),
    help="How long a task stays `submitted`.",
)
@click.option(
    "--processing-seconds",
    default=3.0,
    show_default=True,
    type=click.FloatRange(0),
    help="How long a task stays `processing` (at least).",
)
@click.option(
    "--clock-scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="How fast task time runs against real time (10: ten times faster).",
)
@click.option(
    "--max-open-tasks",
    default=None,
    type=click.IntRange(1),
    help="Answer 1303 to a create while this many tasks are open.",
)
@click.option(
    "--fail-every", default=0, type=click.IntRange(0), help="Make every Nth task end `failed`."
)
def sandbox(
    host: str,
    port: int,
    submitted_seconds: float,
    processing_seconds: float,
    clock_scale: float,
    max_open_tasks: int | None,
    fail_every: int,
) -> None:
    """Serve a local stand-in for Kling's API, WaveSpeedAI and fal (loopback only) until Ctrl-C.

    Prints the environment a client needs; paste it into a shell to point preflight at it.
    """
    config = SandboxConfig(
        submitted_seconds=submitted_seconds,
        processing_seconds=processing_seconds,
        clock_scale=clock_scale,
        faults=Faults(max_open_tasks=max_open_tasks, fail_every=fail_every),
    )
    stop = threading.Event()
    # SIGTERM (a service manager, `kill`) stops it as cleanly as Ctrl-C: files removed, no traceback
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    with Sandbox(config, host=host, port=port) as sb:
        click.echo(f"preflight sandbox listening on {sb.url} (loopback only; Ctrl-C stops it)")
        for name, value in sb.environment().items():
            click.echo(f"export {name}={value}")
        try:
            while not stop.wait(3600):
                pass
        except KeyboardInterrupt:
            click.echo("preflight sandbox stopped", err=True)
