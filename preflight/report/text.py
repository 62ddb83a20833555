"""A readable table for a terminal; colour only when asked (the CLI asks on a TTY)."""

from __future__ import annotations

import click

from preflight.model.facts import MediaFacts
from preflight.model.findings import Finding, Severity
from preflight.report.model import Report
from preflight.rules.base import fmt_num

__all__ = ["brief", "render"]

_COLOURS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def brief(facts: MediaFacts) -> str:
    """``mp4 h264 1280x720 4 s 1.2 MB``: what a person wants to see next to a verdict."""
    parts = [facts.container or "?"]
    picture = facts.video or facts.image
    if picture is not None:
        parts.append(picture.codec or "?")
        if picture.width and picture.height:
            parts.append(f"{picture.width}x{picture.height}")
    elif facts.audio is not None:
        parts.append(facts.audio.codec or "?")
    if facts.effective_duration is not None and facts.image is None:
        parts.append(f"{fmt_num(facts.effective_duration)} s")
    parts.append(f"{facts.size_bytes / 1e6:.1f} MB")
    return " ".join(parts)


def _grouped(findings: tuple[Finding, ...]) -> list[tuple[str, Finding]]:
    """Findings with a rule label; identical notes from one family (six "face checks skipped")
    share a line labelled ``face.* (6)``."""
    groups: dict[tuple[Severity, str, bool], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.severity, f.message, f.fixable), []).append(f)
    out: list[tuple[str, Finding]] = []
    for same in groups.values():
        families = {f.rule.split(".", 1)[0] for f in same}
        if len(same) > 1 and len(families) == 1:
            out.append((f"{families.pop()}.* ({len(same)})", same[0]))
        else:
            out.extend((f.rule, f) for f in same)
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def render(report: Report, *, color: bool = False) -> str:
    def style(text: str, **kw: object) -> str:
        return click.style(text, **kw) if color else text  # type: ignore[arg-type]

    lines: list[str] = []
    rows = {id(r): _grouped(r.findings) for r in report.results}
    rule_width = max((len(label) for r in rows.values() for label, _ in r), default=0)
    for result in report.results:
        status = (
            style("PASS", fg="green", bold=True)
            if result.ok
            else style("FAIL", fg="red", bold=True)
        )
        main = result.facts.get("video") or result.facts.get("image")
        shown = style(f"  ({brief(main)})", dim=True) if main is not None else ""
        lines.append(f"{status}  {result.name}{shown}")
        for label, f in rows[id(result)]:
            sev = style(f"{f.severity.value:<7}", fg=_COLOURS[f.severity])
            fix = style("  [fixable]", fg="blue") if f.fixable else ""
            lines.append(f"      {sev}  {label:<{rule_width}}  {f.message}{fix}")
    s = report.summary()
    tail = (
        f"{_plural(s['inputs'], 'input')}: {s['passed']} passed, {s['failed']} failed "
        f"({_plural(s['errors'], 'error')}, {_plural(s['warnings'], 'warning')}"
    )
    if s["fixable"]:
        tail += f"; {s['fixable']} fixable with `preflight fix`"
    tail += f") · profile {report.profile}"
    if report.strict:
        tail += " · strict"
    lines.append("")
    lines.append(style(tail, bold=True))
    return "\n".join(lines) + "\n"
