"""The JSON report: ``{"version": 1, "profile", "results", "summary"}`` (see ``docs/check.md``)."""

from __future__ import annotations

import json

from preflight.report.model import Report

__all__ = ["render"]


def render(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
