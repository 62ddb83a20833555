"""`preflight status` and `preflight tasks`: look at provider tasks from the shell.

Credentials and hosts come from the environment, as for the library clients
(``KLING_ACCESS_KEY``/``KLING_SECRET_KEY``/``KLING_BASE_URL``, ``WAVESPEED_API_KEY``/
``WAVESPEED_BASE_URL``). Errors reach the user as one line (the CLI group turns them into
exit codes); keys never appear in the output.
"""

from __future__ import annotations

import json
from typing import Any

import click

from preflight.client.kling import KlingClient
from preflight.client.models import Task, TaskKind
from preflight.client.wavespeed import WaveSpeedClient
from preflight.model.display import printable

__all__ = ["status_command", "tasks_command"]

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
    return "\n".join(map(printable, lines))  # the provider's text, shown as text


@click.command("status")
@click.argument("task_id")
@click.option(
    "--provider",
    type=click.Choice(["kling", "wavespeed"]),
    default="kling",
    show_default=True,
    help="Which provider the task belongs to.",
)
@click.option(
    "--kind",
    type=click.Choice(KLING_KINDS),
    default=TaskKind.LIP_SYNC.value,
    show_default=True,
    help="Kling endpoint the task was created on.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
def status_command(task_id: str, provider: str, kind: str, as_json: bool) -> None:
    """Show one task: its status, reason and result videos."""
    if provider == "kling":
        with KlingClient() as kling:
            task = kling.get_task(kind, task_id)
    else:
        with WaveSpeedClient() as wavespeed:
            task = wavespeed.result(task_id)
    click.echo(json.dumps(task_record(task), indent=2) if as_json else describe(task))


@click.command("tasks")
@click.option(
    "--provider",
    type=click.Choice(["kling"]),
    default="kling",
    show_default=True,
    help="Only Kling can list tasks (WaveSpeed has no listing).",
)
@click.option(
    "--kind", type=click.Choice(KLING_KINDS), default=TaskKind.LIP_SYNC.value, show_default=True
)
@click.option("--page", type=click.IntRange(1, 1000), default=1, show_default=True)
@click.option("--page-size", type=click.IntRange(1, 500), default=30, show_default=True)
@click.option("--all", "every", is_flag=True, help="Every page, not just one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one task per line.")
def tasks_command(
    provider: str, kind: str, page: int, page_size: int, every: bool, as_json: bool
) -> None:
    """List recent tasks, newest first."""
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
        shown = f"{task.id:<22} {task.status.value:<11} {_when(task):<19}  {result}"
        click.echo(printable(shown))  # the provider's text, shown as text
