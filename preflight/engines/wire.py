"""Check results on the way back from a worker: one compact blob per chunk, not pickled objects.

A chunk's `CheckItemResult`s (each a `Result` with `MediaFacts` by role and `Finding`s, all
frozen slotted dataclasses) cost more to pickle and unpickle than the check itself costs to run
(a quarter of a millisecond a file); the coordinator, which unpickles every result of the batch,
pays it serially. Here a chunk becomes one positional structure of plain values: a row per result,
the facts as their row (`preflight.model.facts.facts_row`, the probe cache's record too),
findings as tuples. `marshal` (C, no object graph, no class lookups)
encodes the lot once; the coordinator rebuilds the dataclasses by position without re-validating
what the worker already built. Tuples, floats (NaN, infinities), None, big ints and surrogate-
escaped names survive exactly, so the report is the same byte for byte.

A value marshal cannot hold (a rule's ``measured`` that is not a plain value) makes that chunk
fall back to pickle, whole: slower, never different. The blobs travel only between a coordinator
and its own workers, which unpickle whatever the coordinator sends them anyway.
"""

from __future__ import annotations

import marshal
import pickle
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from preflight.model.facts import MediaFacts, facts_from_row, facts_row
from preflight.model.findings import Finding, Severity
from preflight.report.model import Result, Timeline

__all__ = ["decode_checks", "encode_checks"]

_MARSHAL = b"M"
_PICKLE = b"P"
_VERSION = 4  # marshal's format since Python 3.4

_SEVERITY = {s.value: s for s in Severity}


def _by_role(facts: list[Any] | tuple[Any, ...]) -> Mapping[str, MediaFacts]:
    got = {role: facts_from_row(values) for role, values in facts}
    return got if type(facts) is list else MappingProxyType(got)


def _timeline(duration: float, tracks: dict[str, Any]) -> Timeline:
    return Timeline(duration, tracks) if tracks else Timeline(duration)  # its own empty default


def _row(index: int, result: Result, error: str, elapsed: float) -> tuple[Any, ...]:
    timeline = result.timeline
    return (
        index,
        error,
        elapsed,
        result.name,
        result.ok,
        tuple(
            (f.rule, f.severity.value, f.message, f.measured, f.limit, f.fixable, f.ranges)
            for f in result.findings
        ),
        # a list for the dict a check builds, a tuple for any other mapping (the default proxy)
        (list if type(result.facts) is dict else tuple)(
            (role, facts_row(m)) for role, m in result.facts.items()
        ),
        result.location,
        result.line,
        None if timeline is None else (timeline.duration, dict(timeline.tracks)),
    )


def encode_checks(rows: list[tuple[int, Result, str, float]]) -> bytes:
    """A chunk's results ``(index, result, error, elapsed)`` as one blob (see the module doc)."""
    plain = [_row(*row) for row in rows]
    try:
        return _MARSHAL + marshal.dumps(plain, _VERSION)
    except ValueError:  # a value marshal cannot hold: the same rows as pickle, same results
        return _PICKLE + pickle.dumps(plain, protocol=pickle.HIGHEST_PROTOCOL)


def decode_checks(blob: bytes) -> list[tuple[int, Result, str, float]]:
    """The rows `encode_checks` was given, rebuilt."""
    # both only ever from this coordinator's own workers, which unpickle what it sends them
    if blob[:1] == _MARSHAL:
        rows = marshal.loads(blob[1:])  # noqa: S302
    elif blob[:1] == _PICKLE:
        rows = pickle.loads(blob[1:])  # noqa: S301
    else:
        raise ValueError("not an encoded chunk of check results")
    severity = _SEVERITY
    out: list[tuple[int, Result, str, float]] = []
    for index, error, elapsed, name, ok, found, facts, location, line, timeline in rows:
        result = Result(
            name,
            ok,
            tuple(
                Finding(rule, severity[level], message, measured, limit, fixable, ranges)
                for rule, level, message, measured, limit, fixable, ranges in found
            ),
            _by_role(facts),
            location,
            line,
            None if timeline is None else _timeline(*timeline),
        )
        out.append((index, result, error, elapsed))
    return out
