"""Evaluate a job against a profile: run each enabled rule, give its findings a severity.

Pure: no I/O. The profile says which rules run, with which parameters and severity; a `Config`
may switch rules on or off and change severities. ``input.readable`` always runs as an error:
nothing else can be said about an input that cannot be read.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from preflight.model.findings import Finding, Severity
from preflight.model.job import Job
from preflight.model.profile import Profile
from preflight.rules.base import Check
from preflight.rules.registry import get

if TYPE_CHECKING:
    from preflight.checking.config import Config

__all__ = ["evaluate", "is_ok"]

ALWAYS_ON = "input.readable"


def evaluate(job: Job, profile: Profile, config: Config | None = None) -> list[Finding]:
    """Every finding for ``job`` under ``profile`` (and ``config``): errors first, then warnings
    and notes, each in the profile's rule order."""
    findings: list[Finding] = []
    for rule_id, check, severity, params in _plan(profile, config):
        for violation in check(job, params):
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
    if len(findings) > 1:
        findings.sort(key=lambda f: -f.severity.rank)  # errors first; stable within a severity
    return findings


_Step = tuple[str, Check, Severity, Mapping[str, Any]]
# the rules a (profile, config) pair runs, worked out once per pair rather than once per job (a
# batch judges thousands of jobs under one pair); keyed by identity, the objects kept alive
# beside their plan so an id is never reused while its entry stands. Both are frozen.
_PLANS: dict[
    tuple[int, int],
    tuple[Profile, Config | None, tuple[_Step, ...], Mapping[str, Mapping[str, Any]]],
] = {}
_MAX_PLANS = 32


def _plan(profile: Profile, config: Config | None) -> tuple[_Step, ...]:
    """Each enabled rule with its check, severity and parameters, in the order they run."""
    return _planned(profile, config)[2]


def enabled_params(profile: Profile, config: Config | None) -> Mapping[str, Mapping[str, Any]]:
    """rule id -> parameters of every rule ``evaluate`` runs for this profile and config (from
    the same plan, so what is analysed for a rule is what is judged)."""
    return _planned(profile, config)[3]


def _planned(
    profile: Profile, config: Config | None
) -> tuple[Profile, Config | None, tuple[_Step, ...], Mapping[str, Mapping[str, Any]]]:
    key = (id(profile), id(config))
    known = _PLANS.get(key)
    if known is not None and known[0] is profile and known[1] is config:
        return known
    steps: list[_Step] = []
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
        params = setting.params if setting is not None else MappingProxyType(rule.defaults())
        override = config.rules.get(rule_id) if config is not None else None
        if override is not None:
            enabled = override.enabled if override.enabled is not None else enabled
            severity = override.severity or severity
        if rule_id == ALWAYS_ON:
            enabled, severity = True, Severity.ERROR
        if enabled:
            steps.append((rule_id, rule.check, severity, params))
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    params = MappingProxyType({rule_id: p for rule_id, _, _, p in steps})
    _PLANS[key] = (profile, config, tuple(steps), params)
    return _PLANS[key]


def is_ok(findings: list[Finding], *, strict: bool = False) -> bool:
    """True when no finding is an error (with ``strict``, no warning either)."""
    worst = Severity.WARNING if strict else Severity.ERROR
    return all(f.severity.rank < worst.rank for f in findings)
