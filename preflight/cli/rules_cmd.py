"""`preflight rules`: every rule with its limit and source (from a profile), or the rule docs."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["rules_command"]


@click.command("rules")
@click.option("-p", "--profile", help="Show this profile's limits and sources.")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
def rules_command(profile: str | None, fmt: str) -> None:
    """List the rules: with --profile, each rule's limits, severity and source; without, the
    documentation of every registered rule."""
    from preflight.rules.docs import profile_rows, registry_markdown, registry_rows, render_text

    header: dict[str, Any] = {"profile": None}
    if profile is None:
        if fmt == "markdown":
            click.echo(registry_markdown(), nl=False)
            return
        rows = registry_rows()
    else:
        from preflight.rules.profiles import load_profile

        loaded = load_profile(profile)
        rows = profile_rows(loaded)
        if fmt == "markdown":
            click.echo(_markdown_table(loaded.id, rows, dict(loaded.sources)), nl=False)
            return
        header = {
            "profile": loaded.id,
            "title": loaded.title,
            "provider": loaded.provider,
            "endpoint": loaded.endpoint,
            "extends": loaded.extends,
            "origin": loaded.origin,
            "sources": dict(loaded.sources),
        }
    if fmt == "json":
        doc = {**header, "rules": rows}
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        if profile is not None:
            click.echo(f"{header['title']}  [{header['profile']}: {header['endpoint']}]\n")
        click.echo(render_text(rows), nl=False)
        if profile is not None and header["sources"]:
            click.echo("\nsources:")
            for key, where in header["sources"].items():
                click.echo(f"  {key:<8} {where}")


def _markdown_table(profile: str, rows: list[dict[str, Any]], sources: dict[str, str]) -> str:
    lines = [
        f"## {profile}",
        "",
        "| rule | on | severity | limits | source |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        limits = ", ".join(f"{k}={_short(v)}" for k, v in row["params"].items())
        on = "yes" if row["enabled"] else "no"
        lines.append(f"| `{row['rule']}` | {on} | {row['severity']} | {limits} | {row['source']} |")
    if sources:
        lines += ["", "Sources:", ""] + [f"- **{k}**: {v}" for k, v in sources.items()]
    return "\n".join(lines) + "\n"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else f"{text[:57]}..."
