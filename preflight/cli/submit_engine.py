"""`submit --engine/--scheduler/--fix-dir`: one coordinator, its check and fix work on a cluster.

The coordinator (this process) keeps the ledger and the provider slots; only the check and fix
items of its jobs go to the engine (`preflight.engines.Session`), and each result comes back
into the job's own pipeline (`docs/scale.md`, "Submit stays one coordinator").
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import click

__all__ = ["engine_options", "on_engine", "pop_engine"]

_OPTIONS = [
    click.option(
        "--engine",
        type=click.Choice(["local", "dask"]),
        help="Check and fix the jobs' media on a process pool (local) or Dask; the provider "
        "calls stay in this process.",
    ),
    click.option(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="A running Dask scheduler [default: $PREFLIGHT_SCHEDULER]; implies --engine dask.",
    ),
    click.option(
        "--fix-dir",
        metavar="DIR|s3://BUCKET/PREFIX",
        help="With --engine/--scheduler: where fixed media land (a folder every worker and "
        "this machine share, or S3) [default with --engine: the work folder beside the ledger].",
    ),
]


def engine_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_OPTIONS):
        f = option(f)
    return f


def pop_engine(options: dict[str, Any]) -> dict[str, Any]:
    """The engine options, taken out of the command's (the rest become the request)."""
    return {k: options.pop(k, None) for k in ("engine", "scheduler", "fix_dir")}


@contextlib.contextmanager
def on_engine(submitter: Any, settings: dict[str, Any], *, fix: bool) -> Iterator[None]:
    """Give ``submitter`` the engine `pop_engine`'s ``settings`` ask for, for the run. A remote
    cluster with fixing on needs a ``--fix-dir`` this process can read: otherwise a fixed clip
    would land on a worker's own disk (a usage error, before any job starts)."""
    from preflight.engines import SCHEDULER_ENV, Session, resolve_engine, s3

    engine, scheduler, fix_dir = settings["engine"], settings["scheduler"], settings["fix_dir"]
    if not (engine or scheduler or os.environ.get(SCHEDULER_ENV)):
        if fix_dir:
            raise click.UsageError("--fix-dir is where fixes on an engine land: add --scheduler "
                                   "or --engine")  # fmt: skip
        yield
        return
    chosen = resolve_engine(engine, scheduler)
    if chosen.scheduler and fix and not fix_dir:
        raise click.UsageError(
            f"fixes run on the cluster at {chosen.scheduler}, and without --fix-dir they would "
            "land on a worker's local disk: give --fix-dir a folder every worker and this "
            "machine share, or s3://BUCKET/PREFIX (or --no-fix)"
        )
    if fix_dir and s3.is_s3(fix_dir):
        s3.parse(fix_dir)  # a malformed URI is a usage error
    elif fix_dir:
        os.makedirs(fix_dir, exist_ok=True)
    with Session(chosen) as session:
        submitter.engine, submitter.fix_dir = session, fix_dir
        try:
            yield
        finally:
            submitter.engine, submitter.fix_dir = None, None
