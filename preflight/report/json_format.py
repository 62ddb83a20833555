"""The JSON report: ``{"version": 1, "profile", "results", "summary"}`` (see ``docs/check.md``).

Laid out for people and for ``diff``/``grep`` as well as for tools: the envelope, each result
and its ``facts`` and ``findings`` are indented two spaces a level as ``json.dumps(indent=2)``
would; below that (one input role's facts, one finding, a finding's ``ranges``) each value is
one line. Every piece is made by the C encoder (``json.dumps`` with ``indent=2`` runs Python's
pure-Python one, which cost as much as probing an MP4): a batch of thousands is written in a few
milliseconds. The document parses to exactly what ``json.dumps(report.to_dict(), indent=2)``
gave (same keys, order and values); NaN and infinities are written as ``null``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from preflight.report.model import Report

__all__ = ["dumps", "jsonable", "render"]

# the levels laid out one item a line: 0 the document, 1 results/summary, 2 a result,
# 3 its facts and findings; deeper values are one line each
_EXPANDED_LEVELS = 4
_ONE_LINE = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities as None (strict JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _one_line(value: Any) -> str:
    try:
        return _ONE_LINE.encode(value)
    except ValueError:  # NaN or an infinity somewhere in it: rare, so cleaned only then
        return _ONE_LINE.encode(jsonable(value))


def _layout(value: Any, level: int, out: list[str]) -> None:
    """Append ``value`` as JSON to ``out``: containers above `_EXPANDED_LEVELS` an item a line
    (``json.dumps(indent=2)``'s layout, empty ones as ``{}``/``[]``), anything else one line."""
    is_dict = isinstance(value, dict)
    if (
        level >= _EXPANDED_LEVELS
        or not value
        or not (is_dict or isinstance(value, list | tuple))
        or (is_dict and not all(isinstance(k, str) for k in value))  # the encoder names those
    ):
        out.append(_one_line(value))
        return
    inner = "\n" + "  " * (level + 1)
    out.append("{" if is_dict else "[")
    first = True
    for item in value.items() if is_dict else value:
        out.append(inner if first else "," + inner)
        first = False
        if is_dict:
            key, item = item
            out.append(_one_line(key) + ": ")
        _layout(item, level + 1, out)
    out.append("\n" + "  " * level + ("}" if is_dict else "]"))


def dumps(value: Any) -> str:
    """``value`` as the report's JSON text (the layout above), with a final newline."""
    out: list[str] = []
    _layout(value, 0, out)
    out.append("\n")
    return "".join(out)


def render(report: Report) -> str:
    return dumps(report.to_dict())
