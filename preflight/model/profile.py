"""Provider profiles: the limits of one provider endpoint, loaded from `rules/*.toml`.

A profile is validated once into frozen values; nothing edits it afterwards. See
``rules/README.md`` for the file format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from preflight.model.findings import Severity
from preflight.model.pricing import Pricing

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

    def __reduce__(self) -> tuple[Any, ...]:
        # MappingProxyType cannot be pickled; a process pool or a Dask worker needs the profile
        return reduce_frozen(self)


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
    pricing: Pricing | None = None  # `[pricing]`: what a job costs (None: the file declares none)

    def __reduce__(self) -> tuple[Any, ...]:
        # rules (and each rule's params) are mapping proxies, which pickle refuses: send plain
        # dicts marked as proxies and rebuild the same read-only views on the other side
        return reduce_frozen(self)

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


class _Proxied(dict[str, Any]):
    """A plain dict standing for a `MappingProxyType` while pickled (see `thaw`)."""


def thaw(value: Any) -> Any:
    """``value`` with every `MappingProxyType` (at any depth) as a picklable `_Proxied` dict.

    Pickle refuses mapping proxies, and profiles, configs and reports are built of them; `refreeze`
    turns the result back into the same read-only views, so a round trip gives an equal value.
    """
    if isinstance(value, MappingProxyType):
        return _Proxied({k: thaw(v) for k, v in value.items()})
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple) and type(value) is tuple:
        return tuple(thaw(v) for v in value)
    return value


def refreeze(value: Any) -> Any:
    """The inverse of `thaw`: `_Proxied` dicts become mapping proxies again."""
    if isinstance(value, _Proxied):
        return MappingProxyType({k: refreeze(v) for k, v in value.items()})
    if isinstance(value, dict):
        return {k: refreeze(v) for k, v in value.items()}
    if isinstance(value, tuple) and type(value) is tuple:
        return tuple(refreeze(v) for v in value)
    return value


def reduce_frozen(obj: Any) -> tuple[Any, ...]:
    """``__reduce__`` for a frozen dataclass holding mapping proxies: every field, thawed."""
    state = tuple(thaw(getattr(obj, f.name)) for f in fields(obj))
    return (_rebuild, (type(obj), state))


def _rebuild(cls: type[Any], state: tuple[Any, ...]) -> Any:
    return cls(*(refreeze(value) for value in state))
