"""`preflight fix --face-window`: find each input's face window, then fix it trimmed to that.

Inputs are handled one after another (each needs its own ``--start``/``--end``); an input with
no usable window is reported ``unfixable`` with the reason and never stops the others.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import click

from preflight.model.errors import PreflightError
from preflight.rules.base import fmt_num

__all__ = ["fix_face_windows"]


def fix_face_windows(
    inputs: Sequence[str],
    *,
    output: str | None,
    dry_run: bool,
    fmt: str,
    profile: Any,
    options: Any,
    config: Any,
    threads: int | None,
    out_dir: str | None,
) -> int:
    """Fix every input trimmed to its face window; print as `preflight fix` does; exit code."""
    from preflight.cli.fix_render import render_plan, render_result
    from preflight.fixing import FixResult, fix, plan_fix
    from preflight.fixing.face_window import window_for

    records: list[dict[str, Any]] = []
    ok = True
    for source in inputs:
        try:
            window = window_for(source, profile, config)
        except PreflightError as exc:
            result = FixResult(source=os.fspath(source), status="unfixable", message=str(exc))
            ok = False
            records.append({**result.to_dict(), "face_window": None})
            if fmt == "text":
                click.echo(render_result(result))
            continue
        trimmed = replace(options, start=window.start, end=window.end)
        shown = f"{fmt_num(window.start)}–{fmt_num(window.end)} s"
        common = {"profile": profile, "options": trimmed, "config": config, "out_dir": out_dir}
        span = {"start": window.start, "end": window.end}
        if dry_run:
            plan = plan_fix(source, output=output, threads=threads, **common)
            ok = ok and plan.strategy.value != "unfixable"
            records.append({**plan.to_dict(), "face_window": span})
            if fmt == "text":
                click.echo(f"{source}: face window {shown}\n{render_plan(plan)}")
            continue
        done = fix(source, output=output, threads=threads, show_progress=fmt == "text", **common)
        ok = ok and done.ok
        records.append({**done.to_dict(), "face_window": span})
        if fmt == "text":
            click.echo(f"{source}: face window {shown}\n{render_result(done)}")
    if fmt == "json":
        key = "plans" if dry_run else "results"
        click.echo(json.dumps({key: records}, indent=2))
    return 0 if ok else 1
