"""`preflight rules`: every rule with its limit and source (from a profile), or the rule docs."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import click

from preflight.cli import examples

__all__ = ["rules_command", "voice_table", "voices_command"]


@click.command(
    "rules",
    epilog=examples(
        "preflight rules",
        "preflight rules --profile kling-lipsync",
        "preflight rules --profile wavespeed-lipsync --format json",
    ),
)
@click.option("-p", "--profile", help="Show this profile's limits, sources and voices.")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text for reading, json for scripts, markdown for docs.",
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
            "pricing": None if loaded.pricing is None else loaded.pricing.to_dict(),
        }
    if fmt == "json":
        doc = {**header, "rules": rows}
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        if profile is not None:
            click.echo(f"{header['title']}  [{header['profile']}: {header['endpoint']}]\n")
        click.echo(render_text(rows), nl=False)
        if profile is not None and loaded.pricing is not None:
            price = loaded.pricing
            click.echo(f"\npricing: {price.summary()}  [{price.source}]")
        if profile is not None and header["sources"]:
            click.echo("\nsources:")
            for key, where in header["sources"].items():
                click.echo(f"  {key:<8} {where}")
        if profile is not None and (voices := voice_table(loaded)):
            click.echo(f"\nvoices ({len(voices)}; --voice-id, `preflight voices` for one a line):")
            for language in dict.fromkeys(lang for _, lang in voices):
                ids = ", ".join(v for v, lang in voices if lang == language)
                click.echo(textwrap.fill(ids, 96, initial_indent=f"  {language}: ",
                                         subsequent_indent=" " * 7))  # fmt: skip


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


def voice_table(profile: Any) -> list[tuple[str, str]]:
    """(voice id, language) for every voice ``profile`` accepts; ``any`` for ids valid with
    either ``voice_language``. Empty when the profile takes no voice (no ``text.voice_id``)."""
    setting = profile.rules.get("text.voice_id")
    if setting is None or not setting.enabled:
        return []
    rows = [(voice, "any") for voice in setting.params.get("voices", ())]
    for language, ids in setting.params.get("language_voices", {}).items():
        rows += [(voice, language) for voice in ids]
    return rows


@click.command(
    "voices",
    epilog=examples(
        "preflight voices",
        "preflight voices --profile kling-advanced-lipsync --format json",
        'preflight check clip.mp4 --text "Hello" --voice-id genshin_klee2 --voice-language en',
    ),
)
@click.option(
    "-p",
    "--profile",
    default="kling-lipsync",
    show_default=True,
    help="Profile name (see `preflight rules`) or a .toml path.",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one id a line with its language; json: a list of objects.",
)
def voices_command(profile: str, fmt: str) -> None:
    """List the voice ids a profile accepts for --text, with their language.

    ``any``: valid with either --voice-language; ``en``/``zh``: only with that language.
    """
    from preflight.rules.profiles import load_profile

    loaded = load_profile(profile)
    rows = voice_table(loaded)
    if fmt == "json":
        doc = [{"voice_id": v, "language": lang} for v, lang in rows]
        click.echo(json.dumps({"profile": loaded.id, "voices": doc}, indent=2))
        return
    if not rows:
        click.echo(f"profile {loaded.id} takes no voice id (no text.voice_id rule)", err=True)
        return
    width = max(len(v) for v, _ in rows)
    for voice, language in rows:
        click.echo(f"{voice:<{width}}  {language}")
