"""What a rule is: an id, a documented pure function, and the parameters a profile may set.

A rule reads a `Job` and its parameters and yields `Violation` values; it does no I/O and knows
nothing about severity (the engine assigns that from the profile and config). The function's
docstring is the rule's documentation (`preflight rules`, ``docs/check.md``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from preflight.model.facts import MediaFacts
from preflight.model.findings import Severity
from preflight.model.job import Job

__all__ = ["Check", "Param", "ParamType", "Rule", "Violation", "fmt_bytes", "fmt_num", "name_of"]


class Violation(NamedTuple):
    """What a rule found; the engine turns it into a `Finding` with a severity."""

    message: str
    measured: Any = None
    limit: Any = None
    fixable: bool = False
    ranges: tuple[tuple[float, float], ...] = ()  # (start, end) seconds where it fails
    severity: Severity | None = None  # only for notes that must stay info ("skipped")


Check = Callable[[Job, Mapping[str, Any]], Iterable[Violation]]


class ParamType(enum.Enum):
    """The TOML types a rule parameter may take."""

    NUMBER = "number"  # int or float (stored as float)
    INTEGER = "integer"
    BOOL = "boolean"
    STRINGS = "list of strings"
    STRING_LISTS = "table of lists of strings"


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: its type, the value used when a profile does not set it, and what it means."""

    type: ParamType
    default: Any = None  # None: no default (an unset bound means "no limit")
    help: str = ""
    choices: tuple[str, ...] = ()  # for a list of strings: the only values it may hold


@dataclass(frozen=True, slots=True)
class Rule:
    """A registered rule. ``check`` yields nothing when the job passes or the rule is moot."""

    id: str
    check: Check
    params: Mapping[str, Param] = field(default_factory=dict)
    default_severity: Severity = Severity.ERROR

    @property
    def doc(self) -> str:
        """The rule's documentation: its check function's docstring, dedented."""
        import inspect

        return inspect.cleandoc(self.check.__doc__ or "")

    @property
    def summary(self) -> str:
        """The first line of the documentation."""
        return self.doc.split("\n", 1)[0]

    def defaults(self) -> dict[str, Any]:
        """The parameters that have defaults."""
        return {k: p.default for k, p in self.params.items() if p.default is not None}


def fmt_num(value: float) -> str:
    """``2.0`` -> ``"2"``, ``10.01`` -> ``"10.01"``, ``0.8`` -> ``"0.8"``."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def fmt_bytes(value: int) -> str:
    """Bytes with a readable decimal figure: ``104857600 bytes (104.9 MB)``."""
    return f"{value} bytes ({value / 1e6:.1f} MB)"


def name_of(facts: MediaFacts) -> str:
    """The input's file name for messages (the last part of its path or URL)."""
    tail = facts.source.rstrip("/").rsplit("/", 1)[-1]
    return tail or facts.source
