"""`preflight status` and `preflight tasks`: look at provider tasks from the shell.

Credentials and hosts come from the environment, as for the library clients
(``KLING_ACCESS_KEY``/``KLING_SECRET_KEY``/``KLING_BASE_URL``, ``WAVESPEED_API_KEY``/
``WAVESPEED_BASE_URL``). Errors reach the user as one line (the CLI group turns them into
exit codes); keys never appear in the output.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import click

from preflight.cli import examples
from preflight.client.kling import KlingClient
from preflight.client.models import Task, TaskKind
from preflight.client.wavespeed import WaveSpeedClient

__all__ = ["provider_for", "status_command", "tasks_command"]

# What each provider's task ids look like (Kling: a long decimal number; WaveSpeed: 32 hex digits,
# sometimes with UUID dashes). A local table until the providers registry carries id shapes.
ID_SHAPES: dict[str, re.Pattern[str]] = {
    "kling": re.compile(r"\d{6,}"),
    "wavespeed": re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", re.I),
}

KLING_KINDS = [
    TaskKind.LIP_SYNC.value,
    TaskKind.IMAGE2VIDEO.value,
    TaskKind.ADVANCED_LIP_SYNC.value,
]


def task_record(task: Task) -> dict[str, Any]:
    """A task as plain JSON-able data (what ``--json`` prints)."""
    return {
        "id": task.id,
        "provider": task.provider,
        "kind": task.kind.value,
        "status": task.status.value,
        "status_message": task.status_message,
        "videos": [{"url": v.url, "id": v.id, "duration": v.duration} for v in task.videos],
        "created_at": task.created_at.isoformat() if task.created_at else None,
        "updated_at": task.updated_at.isoformat() if task.updated_at else None,
        "external_task_id": task.external_task_id,
        "model": task.model,
        "cost_units": task.cost_units,
    }


def _when(task: Task) -> str:
    return task.created_at.strftime("%Y-%m-%d %H:%M:%S") if task.created_at else "-"


def describe(task: Task) -> str:
    """A task as a few labelled lines."""
    lines = [
        f"task      {task.id}",
        f"provider  {task.provider} ({task.kind.value})",
        f"status    {task.status.value}",
    ]
    if task.status_message:
        lines.append(f"message   {task.status_message}")
    if task.external_task_id:
        lines.append(f"external  {task.external_task_id}")
    if task.model:
        lines.append(f"model     {task.model}")
    lines.append(f"created   {_when(task)}")
    for video in task.videos:
        length = f" ({video.duration:g} s)" if video.duration is not None else ""
        lines.append(f"video     {video.url}{length}")
    return "\n".join(lines)


def _from_ledger(task_id: str, ledger_path: str | None) -> tuple[str, str | None] | None:
    """(provider, Kling kind) of the ledger's job that created ``task_id``, if there is one.
    A ledger that does not exist yet is not created just to be asked."""
    from preflight.submitting.ledger import Ledger, default_ledger_path

    path = ledger_path or str(default_ledger_path())
    if not os.path.exists(path):
        return None
    with Ledger(path) as ledger:
        for record in ledger.jobs():
            if record.task_id == task_id:
                kind = record.endpoint if record.endpoint in KLING_KINDS else None
                return record.provider, kind
    return None


def provider_for(task_id: str, ledger_path: str | None = None) -> tuple[str, str | None]:
    """Which provider (and Kling endpoint) ``task_id`` belongs to: the ledger's record of it,
    else its shape (`ID_SHAPES`). Raises a usage error naming the ``--provider`` to try."""
    found = _from_ledger(task_id, ledger_path)
    if found is not None:
        return found
    shaped = [name for name, shape in ID_SHAPES.items() if shape.fullmatch(task_id)]
    if len(shaped) == 1:
        return shaped[0], None
    raise click.UsageError(
        f"cannot tell which provider task {task_id!r} belongs to: it is not in the ledger, and "
        "it looks like neither a Kling id (a long number) nor a WaveSpeed id (32 hex digits); "
        "try --provider kling or --provider wavespeed"
    )


_FORMAT = click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: labelled lines; json: the task as JSON.",
)
_JSON = click.option("--json", "as_json", is_flag=True, hidden=True, help="Same as --format json.")


@click.command(
    "status",
    epilog=examples(
        "preflight status 781234567890123456",
        "preflight status 0f3c2a9be5d14b6f8a7c6e5d4c3b2a19 --format json",
        "preflight status 42 --provider kling --kind advanced-lip-sync",
    ),
)
@click.argument("task_id")
@click.option(
    "--provider",
    type=click.Choice(["kling", "wavespeed"]),
    help="Which provider the task belongs to [default: from the ledger, else the id's shape].",
)
@click.option(
    "--kind",
    type=click.Choice(KLING_KINDS),
    help=f"Kling endpoint the task was created on [default: the ledger's, else "
    f"{TaskKind.LIP_SYNC.value}].",
)
@click.option(
    "--ledger",
    "ledger_path",
    envvar="PREFLIGHT_LEDGER",
    metavar="PATH",
    help="The job ledger to look the task up in (env PREFLIGHT_LEDGER).",
)
@_FORMAT
@_JSON
def status_command(
    task_id: str,
    provider: str | None,
    kind: str | None,
    ledger_path: str | None,
    fmt: str,
    as_json: bool,
) -> None:
    """Show one task: its status, reason and result videos."""
    if provider is None:
        provider, known_kind = provider_for(task_id, ledger_path)
        kind = kind or known_kind
    if provider == "kling":
        with KlingClient() as kling:
            task = kling.get_task(kind or TaskKind.LIP_SYNC.value, task_id)
    else:
        with WaveSpeedClient() as wavespeed:
            task = wavespeed.result(task_id)
    as_json = as_json or fmt == "json"
    click.echo(json.dumps(task_record(task), indent=2) if as_json else describe(task))


@click.command(
    "tasks",
    epilog=examples(
        "preflight tasks",
        "preflight tasks --kind advanced-lip-sync --page-size 100",
        "preflight tasks --all --format json > tasks.jsonl",
    ),
)
@click.option(
    "--provider",
    type=click.Choice(["kling"]),
    default="kling",
    show_default=True,
    help="Only Kling can list tasks (WaveSpeed has no listing).",
)
@click.option(
    "--kind",
    type=click.Choice(KLING_KINDS),
    default=TaskKind.LIP_SYNC.value,
    show_default=True,
    help="Kling endpoint whose tasks to list.",
)
@click.option(
    "--page",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    help="Page to show (newest first).",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 500),
    default=30,
    show_default=True,
    help="Tasks per page.",
)
@click.option("--all", "every", is_flag=True, help="Every page, not just one.")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a table; json: JSON lines, one task per line.",
)
@_JSON
def tasks_command(
    provider: str, kind: str, page: int, page_size: int, every: bool, fmt: str, as_json: bool
) -> None:
    """List recent tasks, newest first."""
    as_json = as_json or fmt == "json"
    with KlingClient() as kling:
        if every:
            tasks = []
            for number in range(1, 1001):
                batch = kling.list_tasks(kind, page=number, page_size=page_size)
                tasks.extend(batch)
                if len(batch) < page_size:
                    break
        else:
            tasks = kling.list_tasks(kind, page=page, page_size=page_size)
    if as_json:
        for task in tasks:
            click.echo(json.dumps(task_record(task)))
        return
    if not tasks:
        click.echo("no tasks")
        return
    click.echo(f"{'TASK':<22} {'STATUS':<11} {'CREATED':<19}  RESULT")
    for task in tasks:
        result = task.video_url or task.status_message or ""
        click.echo(f"{task.id:<22} {task.status.value:<11} {_when(task):<19}  {result}")
