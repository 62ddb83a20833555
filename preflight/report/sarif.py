"""SARIF 2.1.0 (code-scanning upload): one run, the profile's rules, one result per finding."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from preflight.model.findings import Severity
from preflight.report.json_format import dumps
from preflight.report.model import Report, Result

__all__ = ["SARIF_SCHEMA", "render"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _uri(name: str) -> str:
    """A relative URI for a path inside the working directory, a file URI otherwise; URLs as is."""
    if "://" in name:
        return name
    path = Path(name).absolute()
    try:
        return quote(os.fsencode(path.relative_to(Path.cwd().absolute()).as_posix()))
    except ValueError:
        return path.as_uri()


def _location(result: Result) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(result.file)}}
    if result.line is not None:
        physical["region"] = {"startLine": result.line}
    return {"physicalLocation": physical}


def render(report: Report) -> str:
    from preflight.model.version import __version__
    from preflight.rules.registry import get

    used = sorted({f.rule for _, f in report.findings()})
    rules: list[dict[str, Any]] = []
    for rule_id in used:
        rule = get(rule_id)
        rules.append(
            {
                "id": rule_id,
                "name": rule_id.replace(".", "_"),
                "shortDescription": {"text": rule.summary or rule_id},
                "fullDescription": {"text": rule.doc or rule_id},
                "defaultConfiguration": {"level": _LEVELS[rule.default_severity]},
            }
        )
    index = {rule_id: i for i, rule_id in enumerate(used)}
    results = []
    for result, f in report.findings():
        results.append(
            {
                "ruleId": f.rule,
                "ruleIndex": index[f.rule],
                "level": _LEVELS[f.severity],
                "message": {"text": f"{f.message}" + (" (fixable)" if f.fixable else "")},
                "locations": [_location(result)],
                "properties": {"measured": f.measured, "limit": f.limit, "fixable": f.fixable},
            }
        )
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "preflight",
                        "version": __version__,
                        "informationUri": "https://example.invalid/preflight",
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"preflight/{report.profile}/"},
                "results": results,
            }
        ],
    }
    return dumps(doc)
