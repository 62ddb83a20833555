"""How `preflight fix` shows a plan and a result as text (shared by the face-window path)."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

import click

__all__ = ["render_plan", "render_result"]


def render_plan(plan: Any) -> str:
    """A plan as text: strategy, target, numbered steps, warnings and the exact command lines."""
    head = f"{plan.source}: {plan.strategy.value}"
    if plan.target:
        head += f" -> {plan.target}"
    lines = [head]
    if plan.reason:
        lines.append(f"  {plan.reason}")
    for n, step in enumerate(plan.steps, 1):
        rule = f" [{step.rule}]" if step.rule else ""
        lines.append(f"  {n}. {step.kind}: {step.reason}{rule}")
    lines += [f"  warning: {w}" for w in plan.warnings]
    if plan.compress:
        lines.append("  (re-measured after encoding; retried at a lower bit rate if still over)")
    lines += [f"  $ {shlex.join(cmd)}" for cmd in plan.commands]
    return "\n".join(lines)


def render_result(result: Any) -> str:
    """One input's outcome as text: status, output, what moved, quality, warnings."""
    target = f" -> {result.output}" if result.output else ""
    lines = [f"{result.source}{target}: {result.status} ({result.message}, {result.elapsed:.1f} s)"]
    plan = result.plan
    if plan is not None and result.status == "fixed":
        lines += [f"  {s.kind}: {s.reason}" for s in plan.steps]
    for change in result.changes:
        lines.append(f"  {change.key}: {_show(change.before)} -> {_show(change.after)}")
    if result.ssim is not None:
        lines.append(f"  quality: SSIM {result.ssim:.4f} against the source")
    if plan is not None:
        lines += [f"  warning: {w}" for w in plan.warnings]
    if not result.ok:
        lines = [click.style(lines[0], fg="red") if _tty() else lines[0], *lines[1:]]
    return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return "-" if value is None else str(value)


def _tty() -> bool:
    return sys.stdout.isatty() and os.environ.get("NO_COLOR") is None
