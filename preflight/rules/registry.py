"""The explicit table of every rule preflight knows. No discovery: add a family's ``RULES`` here.

``get(rule_id)`` fails loudly (``UnknownRuleError``, a ``KeyError``) on an id that is not listed,
so a typo in a profile or config file never silently disables a check.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from preflight.rules import audio, face, image, job, text, video
from preflight.rules.base import Rule

__all__ = ["RULES", "UnknownRuleError", "all_rules", "get"]


class UnknownRuleError(KeyError):
    """A rule id that no family registers."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown rule"


def _table(*families: tuple[Rule, ...]) -> Mapping[str, Rule]:
    table: dict[str, Rule] = {}
    for family in families:
        for rule in family:
            if rule.id in table:
                raise RuntimeError(f"rule id {rule.id!r} registered twice")
            table[rule.id] = rule
    return MappingProxyType(table)


RULES: Mapping[str, Rule] = _table(
    job.RULES, video.RULES, audio.RULES, text.RULES, image.RULES, face.RULES
)


def get(rule_id: str) -> Rule:
    """The rule registered as ``rule_id``; raises UnknownRuleError naming it and the known ids."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise UnknownRuleError(
            f"unknown rule {rule_id!r} (known: {', '.join(sorted(RULES))})"
        ) from None


def all_rules() -> list[Rule]:
    """Every registered rule, in registry order."""
    return list(RULES.values())
