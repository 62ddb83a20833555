"""Evaluate a job against a profile: run each enabled rule, give its findings a severity.

Pure: no I/O. The profile says which rules run, with which parameters and severity; a `Config`
may switch rules on or off and change severities. ``input.readable`` always runs as an error:
nothing else can be said about an input that cannot be read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preflight.model.findings import Finding, Severity
from preflight.model.job import Job
from preflight.model.profile import Profile
from preflight.rules.registry import get

if TYPE_CHECKING:
    from preflight.checking.config import Config

__all__ = ["evaluate", "is_ok"]

ALWAYS_ON = "input.readable"


def evaluate(job: Job, profile: Profile, config: Config | None = None) -> list[Finding]:
    """Every finding for ``job`` under ``profile`` (and ``config``): errors first, then warnings
    and notes, each in the profile's rule order."""
    findings: list[Finding] = []
    rule_ids = list(profile.rules)
    if ALWAYS_ON not in rule_ids:
        rule_ids.insert(0, ALWAYS_ON)
    if config is not None:
        # a rule the config switches on that the profile does not list runs with its defaults
        rule_ids += [r for r, o in config.rules.items() if o.enabled and r not in profile.rules]
    for rule_id in rule_ids:
        rule = get(rule_id)
        setting = profile.rules.get(rule_id)
        enabled = setting.enabled if setting is not None else True
        severity = setting.severity if setting is not None else rule.default_severity
        params = setting.params if setting is not None else rule.defaults()
        override = config.rules.get(rule_id) if config is not None else None
        if override is not None:
            enabled = override.enabled if override.enabled is not None else enabled
            severity = override.severity or severity
        if rule_id == ALWAYS_ON:
            enabled, severity = True, Severity.ERROR
        if not enabled:
            continue
        for violation in rule.check(job, params):
            findings.append(
                Finding(
                    rule=rule_id,
                    severity=violation.severity or severity,
                    message=violation.message,
                    measured=violation.measured,
                    limit=violation.limit,
                    fixable=violation.fixable,
                    ranges=violation.ranges,
                )
            )
    findings.sort(key=lambda f: -f.severity.rank)  # errors first; stable within a severity
    return findings


def is_ok(findings: list[Finding], *, strict: bool = False) -> bool:
    """True when no finding is an error (with ``strict``, no warning either)."""
    worst = Severity.WARNING if strict else Severity.ERROR
    return all(f.severity.rank < worst.rank for f in findings)
