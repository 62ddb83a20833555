"""Rule documentation generated from the registry (`preflight rules`, ``docs/check.md``)."""

from __future__ import annotations

from typing import Any

from preflight.model.profile import Profile
from preflight.rules.registry import RULES

__all__ = ["profile_rows", "registry_markdown", "registry_rows", "render_text"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "items"):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def registry_rows() -> list[dict[str, Any]]:
    """One row per registered rule: id, default severity, parameters, documentation."""
    return [
        {
            "rule": rule.id,
            "severity": rule.default_severity.value,
            "params": {
                name: {"type": p.type.value, "default": _jsonable(p.default), "help": p.help}
                for name, p in rule.params.items()
            },
            "summary": rule.summary,
            "doc": rule.doc,
        }
        for rule in RULES.values()
    ]


def profile_rows(profile: Profile) -> list[dict[str, Any]]:
    """One row per rule of ``profile``: enabled, severity, parameter values, source and note."""
    return [
        {
            "rule": rule_id,
            "enabled": setting.enabled,
            "severity": setting.severity.value,
            "params": {k: _jsonable(v) for k, v in setting.params.items()},
            "source": setting.source,
            "note": " ".join(setting.note.split()),
            "summary": RULES[rule_id].summary,
        }
        for rule_id, setting in profile.rules.items()
    ]


def _value(value: Any) -> str:
    if isinstance(value, list):
        text = ", ".join(str(v) for v in value)
        return f"[{text}]" if len(text) <= 70 else f"[{len(value)} values]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {len(v)} values" for k, v in value.items()) + "}"
    return str(value)


def render_text(rows: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for row in rows:
        state = "" if row.get("enabled", True) else "  (off)"
        lines.append(f"{row['rule']}  [{row['severity']}]{state}")
        lines.append(f"    {row['summary']}")
        for name, value in row["params"].items():
            shown = value["default"] if isinstance(value, dict) and "type" in value else value
            lines.append(f"    {name} = {_value(shown)}")
        if row.get("source"):
            lines.append(f"    source: {row['source']}")
        if row.get("note"):
            lines.append(f"    note: {row['note']}")
    return "\n".join(lines) + "\n"


def registry_markdown() -> str:
    """Every registered rule as a markdown section, from its docstring and parameter table."""
    out = []
    for rule in RULES.values():
        out.append(f"### `{rule.id}`\n")
        out.append(f"Default severity: {rule.default_severity.value}.\n")
        out.append(rule.doc + "\n")
        if rule.params:
            out.append("| parameter | type | default | meaning |")
            out.append("|---|---|---|---|")
            for name, p in rule.params.items():
                default = "" if p.default is None else f"`{_jsonable(p.default)}`"
                out.append(f"| `{name}` | {p.type.value} | {default} | {p.help} |")
            out.append("")
    return "\n".join(out)


BEGIN = "<!-- rules:begin"
END = "<!-- rules:end -->"


def update_doc(path: str) -> bool:
    """Regenerate the rules section of a markdown file between the markers; True if it changed.

    ``python -c "from preflight.rules.docs import update_doc; update_doc('docs/check.md')"``
    """
    from pathlib import Path

    file = Path(path)
    text = file.read_text(encoding="utf-8")
    start = text.index("\n", text.index(BEGIN)) + 1
    stop = text.index(END)
    new = text[:start] + "\n" + registry_markdown() + "\n" + text[stop:]
    if new != text:
        file.write_text(new, encoding="utf-8")
    return new != text
