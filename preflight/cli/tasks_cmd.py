"""`preflight status` and `preflight tasks`: look at provider tasks from the shell.

Credentials and hosts come from the environment, as for the library clients
(``KLING_ACCESS_KEY``/``KLING_SECRET_KEY``/``KLING_BASE_URL``, ``WAVESPEED_API_KEY``/
``WAVESPEED_BASE_URL``, ``FAL_KEY``/``FAL_BASE_URL``). Errors reach the user as one line (the CLI
group turns them into exit codes); keys never appear in the output.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from preflight.cli import examples
from preflight.client.models import Task, TaskKind
from preflight.model.display import printable
from preflight.submitting.registry import PROVIDERS, REGISTRY, entry, providers_for_task_id

__all__ = ["status_command", "tasks_command"]

# every endpoint a provider of the registry can look a task up on (Kling's three, today)
KINDS = list(dict.fromkeys(kind for e in REGISTRY.values() for kind in e.task_kinds))
LISTING = [name for name, e in REGISTRY.items() if e.can_list]


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
    return "\n".join(map(printable, lines))  # the provider's text, shown as text


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
                kind = record.endpoint if record.endpoint in KINDS else None
                return record.provider, kind
    return None


def provider_for(task_id: str, ledger_path: str | None = None) -> tuple[str, str | None]:
    """Which provider (and Kling endpoint) ``task_id`` belongs to: the ledger's record of it,
    else its shape (the provider registry's task-id patterns). Raises a usage error naming the
    ``--provider`` to try."""
    found = _from_ledger(task_id, ledger_path)
    if found is not None:
        return found
    shaped = providers_for_task_id(task_id)
    if len(shaped) == 1:
        return shaped[0].name, None
    which = "several providers" if shaped else "no provider"
    # a dashed UUID may be fal's or WaveSpeed's: name just those (asking both would need both
    # providers' keys and could show the wrong provider's task)
    names = [e.name for e in shaped] or list(PROVIDERS)
    raise click.UsageError(
        f"cannot tell which provider task {task_id!r} belongs to: it is not in the ledger, and "
        f"it looks like a task id of {which}; try "
        + " or ".join(f"--provider {name}" for name in names)
    )


_JSON = click.option("--json", "as_json", is_flag=True, hidden=True, help="Same as --format json.")


@click.command(
    "status",
    epilog=examples(
        "preflight status 781234567890123456",
        "preflight status 1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d --provider fal --format json",
        "preflight status TASK --provider kling --kind advanced-lip-sync",
    ),
)
@click.argument("task_id")
@click.option(
    "--provider",
    type=click.Choice(PROVIDERS),
    help="Which provider the task belongs to [default: from the ledger, else the id's shape].",
)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
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
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: labelled lines; json: the task as JSON.",
)
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
    kind = kind or TaskKind.LIP_SYNC.value
    if kind not in entry(provider).task_kinds:
        raise click.UsageError(f"{provider} tasks have no kind {kind!r}")
    adapter = entry(provider).adapt(entry(provider).make_client())
    try:
        task = adapter.get_task(task_id, kind)
    finally:
        adapter.close()
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
    type=click.Choice(LISTING),
    default=LISTING[0],
    show_default=True,
    help="A provider whose API lists tasks (WaveSpeed has no listing).",
)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
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
    adapter = entry(provider).adapt(entry(provider).make_client())
    try:
        if every:
            tasks = []
            for number in range(1, 1001):
                batch = adapter.list_tasks(kind, page=number, page_size=page_size)
                tasks.extend(batch)
                if len(batch) < page_size:
                    break
        else:
            tasks = adapter.list_tasks(kind, page=page, page_size=page_size)
    finally:
        adapter.close()
    if as_json or fmt == "json":
        for task in tasks:
            click.echo(json.dumps(task_record(task)))
        return
    if not tasks:
        click.echo("no tasks")
        return
    click.echo(f"{'TASK':<22} {'STATUS':<11} {'CREATED':<19}  RESULT")
    for task in tasks:
        result = task.video_url or task.status_message or ""
        shown = f"{task.id:<22} {task.status.value:<11} {_when(task):<19}  {result}"
        click.echo(printable(shown))  # the provider's text, shown as text
