"""Provider profiles: the limits of one provider endpoint, loaded from `rules/*.toml`.

A profile is validated once into frozen values; nothing edits it afterwards. See
``rules/README.md`` for the file format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from preflight.model.findings import Severity

__all__ = ["Profile", "RuleSetting"]

_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class RuleSetting:
    """One rule as a profile configures it: on/off, severity, parameters and their source."""

    rule: str
    enabled: bool
    severity: Severity
    params: Mapping[str, Any]
    source: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Profile:
    """The limits of one provider endpoint."""

    id: str
    title: str
    provider: str  # "kling" | "wavespeed"
    endpoint: str
    rules: Mapping[str, RuleSetting]
    description: str = ""
    origin: str = ""  # the file it was loaded from
    extends: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)  # source key -> the document it names

    def setting(self, rule: str) -> RuleSetting | None:
        return self.rules.get(rule)

    def param(self, rule: str, key: str, default: Any = _MISSING) -> Any:
        """A rule's parameter, e.g. ``profile.param("video.duration", "max")``.

        Raises KeyError naming the rule and key when absent and no default is given.
        """
        setting = self.rules.get(rule)
        if setting is None or key not in setting.params:
            if default is _MISSING:
                raise KeyError(f"profile {self.id!r} has no parameter {key!r} for rule {rule!r}")
            return default
        return setting.params[key]

    def enabled(self, rule: str) -> bool:
        setting = self.rules.get(rule)
        return setting is not None and setting.enabled


def freeze(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only view of a dict (lists become tuples)."""
    return MappingProxyType({k: tuple(v) if isinstance(v, list) else v for k, v in mapping.items()})
