"""Findings: what a rule says about one job, as plain values (rendering: `preflight.report`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Finding", "Severity"]


class Severity(enum.StrEnum):
    """How much a finding matters: the engine assigns it from profile and config, not the rule."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True, slots=True)
class Finding:
    """One violation (or note) of one rule.

    ``measured`` and ``limit`` are JSON-ready values (numbers, strings, lists) so reports can show
    them as they are. ``ranges`` are (start, end) seconds where a time-based rule fails.
    """

    rule: str
    severity: Severity
    message: str
    measured: Any = None
    limit: Any = None
    fixable: bool = False
    ranges: tuple[tuple[float, float], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "measured": self.measured,
            "limit": self.limit,
            "fixable": self.fixable,
        }
        if self.ranges:
            data["ranges"] = [list(r) for r in self.ranges]
        return data
