"""Rule implementations, one module per family, listed explicitly in `preflight.rules.registry`."""

from __future__ import annotations

from preflight.rules.base import Param, ParamType, Rule, Violation

__all__ = ["Param", "ParamType", "Rule", "Violation"]
