"""The JSON report: ``{"version": 1, "profile", "results", "summary"}`` (see ``docs/check.md``)."""

from __future__ import annotations

import json
import math
from typing import Any

from preflight.report.model import Report

__all__ = ["dumps", "jsonable", "render"]


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities as None (strict JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def render(report: Report) -> str:
    return dumps(report.to_dict())
