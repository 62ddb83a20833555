"""What a check run found: one `Result` per job, and a summary. JSON shape in ``docs/check.md``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from preflight.model.facts import MediaFacts
from preflight.model.findings import Finding, Severity

__all__ = ["REPORT_VERSION", "Report", "Result", "Timeline"]

REPORT_VERSION = 1

TimeSpan = tuple[float, float, str]  # start, end (seconds), "pass" | "fail" | "none"


@dataclass(frozen=True, slots=True)
class Timeline:
    """Where along a clip each time-based check passed and failed, for a picture (the HTML
    report's face bars). ``tracks`` maps a rule id to contiguous spans covering the clip; a span
    is ``(start, end, state)``: ``pass``, ``fail``, or ``none`` where a rule had nothing to judge
    (no face in the frame). Built by the check run from the sampled analysis, so a rule that
    passed everywhere still has its (all-pass) track."""

    duration: float
    tracks: Mapping[str, tuple[TimeSpan, ...]] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Result:
    """One job's verdict. ``name`` is the video path (or ``jobs.jsonl:3``); ``facts`` maps an input
    role (``video``, ``audio``, ``image``) to what the probe read from it."""

    name: str
    ok: bool
    findings: tuple[Finding, ...] = ()
    facts: Mapping[str, MediaFacts] = field(default_factory=lambda: MappingProxyType({}))
    location: str = ""  # the file annotations point at ('' = ``name``): e.g. the jobs file
    line: int | None = None  # its line, for a job read from a jobs file
    timeline: Timeline | None = field(default=None, compare=False)  # face checks, where they ran

    @property
    def path(self) -> str:
        return self.name

    @property
    def file(self) -> str:
        return self.location or self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.name,
            "ok": self.ok,
            "facts": {role: facts.to_dict() for role, facts in self.facts.items()},
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one run found. ``ok`` is False when any result failed (errors; with ``strict``,
    warnings too)."""

    profile: str
    results: tuple[Result, ...]
    strict: bool = False

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def exit_code(self) -> int:
        """0 when everything passed, 1 otherwise (the CLI's contract)."""
        return 0 if self.ok else 1

    def findings(self) -> list[tuple[Result, Finding]]:
        return [(r, f) for r in self.results for f in r.findings]

    def summary(self) -> dict[str, Any]:
        severities = Counter(f.severity for _, f in self.findings())
        return {
            "inputs": len(self.results),
            "passed": sum(r.ok for r in self.results),
            "failed": sum(not r.ok for r in self.results),
            "errors": severities[Severity.ERROR],
            "warnings": severities[Severity.WARNING],
            "infos": severities[Severity.INFO],
            "fixable": sum(f.fixable for _, f in self.findings()),
            "rules": dict(sorted(Counter(f.rule for _, f in self.findings()).items())),
            "strict": self.strict,
            "ok": self.ok,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "profile": self.profile,
            "results": [r.to_dict() for r in self.results],
            "summary": self.summary(),
        }
