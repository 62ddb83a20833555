"""GitHub Actions workflow commands: ``::error file=...,title=...::message`` per finding.

Escaping follows the runner's rules: in the message ``%``, CR and LF are percent-encoded; in
property values ``:`` and ``,`` are too, so a file name or message can never break a command.
"""

from __future__ import annotations

from preflight.model.findings import Severity
from preflight.report.model import Report

__all__ = ["escape_data", "escape_property", "render"]

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: Report) -> str:
    lines = []
    for result, f in report.findings():
        props = f"file={escape_property(result.file)}"
        if result.line is not None:
            props += f",line={result.line}"
        props += f",title={escape_property(f'preflight {f.rule}')}"
        fix = " (fixable with `preflight fix`)" if f.fixable else ""
        lines.append(f"::{_COMMANDS[f.severity]} {props}::{escape_data(f.message + fix)}")
    s = report.summary()
    lines.append(
        f"preflight: {s['inputs']} inputs, {s['passed']} passed, {s['failed']} failed "
        f"(profile {report.profile})"
    )
    return "\n".join(lines) + "\n"
