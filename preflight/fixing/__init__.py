"""Fixing: make an input pass a profile with the cheapest FFmpeg operation, and prove it.

``plan_fix`` says what would be done (steps, warnings, the exact FFmpeg command lines) without
running anything; ``fix`` does it, verifies the output against the same profile, and reports
what changed and the quality cost. See ``docs/fix.md``.
"""

from __future__ import annotations

from preflight.fixing.api import Attempt, FixResult, fix, fix_many, fix_pair, plan_fix, plan_pair
from preflight.fixing.plan import AudioSpec, FixOptions, FixPlan, FixStep, Strategy, VideoSpec

__all__ = [
    "Attempt",
    "AudioSpec",
    "FixOptions",
    "FixPlan",
    "FixResult",
    "FixStep",
    "Strategy",
    "VideoSpec",
    "fix",
    "fix_many",
    "fix_pair",
    "plan_fix",
    "plan_pair",
]
