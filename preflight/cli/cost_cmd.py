"""`preflight estimate`, `submit --max-cost` over a batch, and `submit --dry-run`.

`estimate` takes exactly the arguments `submit` takes (its parameters are submit's own), so a
command line can be priced by changing one word; it probes the inputs and sends nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click

from preflight.cli import examples
from preflight.cli.submit_cmd import Display, submit
from preflight.model.display import printable
from preflight.model.errors import InputError
from preflight.model.pricing import Estimate, money, total
from preflight.submitting.model import SubmitRequest, is_url

if TYPE_CHECKING:
    from preflight.submitting.batch import BatchLine

__all__ = ["dry_run_command", "estimate_command", "refuse_batch_over_budget"]

_FIELDS = frozenset(f.name for f in dataclasses.fields(SubmitRequest))


def _lines(video: str | None, jobs_file: str | None, options: dict[str, Any]) -> list[BatchLine]:
    """The jobs a submit command line names: one request, or one per line of ``--jobs``."""
    from preflight.submitting.batch import BatchLine, read_job_lines

    # --advanced (identify-face first) is priced as the plain job it extends
    fields = {k: v for k, v in options.items() if k in _FIELDS and k != "advanced"}
    if jobs_file is not None:
        defaults = {k: v for k, v in fields.items() if v is not None and k != "out"}
        lines = read_job_lines(jobs_file, defaults)
        return [_missing_file(line) for line in lines]
    assert video is not None
    request = SubmitRequest(video=video, **fields).validate()
    for role in ("video", "audio"):
        source = getattr(request, role)
        if source is not None and not is_url(source) and not os.path.isfile(source):
            raise InputError(f"no such file: {source}", source=source)
    return [BatchLine(request.display_name, request=request)]


def _missing_file(line: BatchLine) -> BatchLine:
    request = line.request
    if request is None:
        return line
    for role in ("video", "audio"):
        source = getattr(request, role)
        if source is not None and not is_url(source) and not os.path.isfile(source):
            return dataclasses.replace(line, request=None, error=f"no such file: {source}")
    return line


def _estimates(lines: Sequence[BatchLine]) -> list[tuple[BatchLine, Estimate | None]]:
    from preflight.submitting.cost import estimate_request

    return [
        (line, None if line.request is None else estimate_request(line.request)) for line in lines
    ]


def _total_text(estimates: list[Estimate]) -> str:
    sums, unpriced = total(estimates)
    shown = " + ".join(money(v, c) for c, v in sorted(sums.items())) or money(Decimal(0))
    jobs = f"{len(estimates)} job{'s' if len(estimates) != 1 else ''}"
    text = f"total: {shown} for {jobs}"
    if unpriced:
        text += f" ({unpriced} with no published price, not counted)"
    return text


def _total_json(estimates: list[Estimate]) -> dict[str, Any]:
    sums, unpriced = total(estimates)
    return {
        "jobs": len(estimates),
        "amounts": {c: f"{v:f}" for c, v in sorted(sums.items())},
        "unpriced": unpriced,
    }


def _estimate_line(line: BatchLine, estimate: Estimate | None) -> str:
    if estimate is None:
        return f"error     {printable(line.name)}: {line.error}"
    shown = money(estimate.amount, estimate.currency)
    return f"{shown:<18} {printable(line.name)}  ({_why(estimate)})"


def _why(estimate: Estimate) -> str:
    parts = [p for p in (estimate.basis, estimate.source) if p]
    return "; ".join([*parts, f"profile {estimate.profile}"] if estimate.profile else parts)


def _estimate_run(video: str | None, jobs_file: str | None, fmt: str, **options: Any) -> None:
    from preflight.submitting.cost import over_budget

    found = _estimates(_lines(video, jobs_file, options))
    priced = [e for _, e in found if e is not None]
    max_cost: Decimal | None = options.get("max_cost")
    refusal = over_budget(priced, max_cost) if max_cost is not None and priced else None
    errors = sum(e is None for _, e in found)
    if fmt == "json":
        report = {
            "jobs": [
                {"name": line.name, "error": line.error}
                if e is None
                else {"name": line.name, "provider": _provider(line), **e.to_dict()}
                for line, e in found
            ],
            "total": _total_json(priced),
            "max_cost": None if max_cost is None else f"{max_cost:f}",
            "refused": refusal,
        }
        click.echo(json.dumps(report, indent=2))
    else:
        for line, e in found:
            click.echo(_estimate_line(line, e))
        click.echo(_total_text(priced))
        if refusal is not None:
            click.secho(f"refused: {refusal}", fg="red", err=True)
    click.get_current_context().exit(1 if refusal is not None or errors else 0)


def _provider(line: BatchLine) -> str | None:
    return None if line.request is None else line.request.provider


def _estimate_callback(**kwargs: Any) -> None:
    from preflight.cli.url_timeout import apply_url_timeout

    apply_url_timeout(kwargs.pop("url_timeout", None))
    video, jobs_file = kwargs.pop("video"), kwargs.pop("jobs_file")
    if (video is None) == (jobs_file is None):
        raise click.UsageError("give a VIDEO (path or URL), or --jobs FILE")
    _estimate_run(video, jobs_file, kwargs.pop("fmt"), **kwargs)


estimate_command = click.Command(
    "estimate",
    callback=_estimate_callback,
    params=list(submit.params),  # the same arguments as submit: price a command line as it is
    help="Estimate what submit would cost for each job and in total; sends nothing.\n\n"
    "Takes the same arguments as `preflight submit` (those that only matter when sending are "
    "accepted and ignored). The price is the profile's [pricing] applied to the input's length "
    "(after the fix trims it to the profile's window); a host that publishes no price is shown "
    "as such, never guessed. With --max-cost, exit 1 when submit would refuse.",
    epilog=examples(
        "preflight estimate clip.mp4 --audio voice.mp3",
        "preflight estimate --jobs jobs.jsonl --format json",
        "preflight estimate clip.mp4 --audio voice.mp3 --max-cost 0.50",
    ),
)


def refuse_batch_over_budget(
    lines: Sequence[BatchLine], max_cost: Decimal, display: Display
) -> None:
    """Stop a ``--jobs`` batch before anything is recorded or sent when its estimated total is
    above ``max_cost`` (or a job has no published price): exit 1."""
    from preflight.submitting.cost import over_budget

    found = [(line, e) for line, e in _estimates(lines) if e is not None]
    reason = over_budget([e for _, e in found], max_cost)
    if reason is None:
        return
    if display.fmt == "json":
        jobs = [{"name": line.name, **e.to_dict()} for line, e in found]
        display.out.write(json.dumps({"event": "refused", "reason": reason, "jobs": jobs}) + "\n")
    else:
        for line, e in found:
            display.line(_estimate_line(line, e), err=False)
        display.line(f"refused: {reason}; nothing was sent", err=False, fg="red")
    click.get_current_context().exit(1)


def dry_run_command(
    video: str | None, jobs_file: str | None, fmt: str, options: dict[str, Any]
) -> None:
    """`submit --dry-run`: see `preflight.submitting.dryrun`."""
    from preflight.model.errors import ConfigError, PreflightError
    from preflight.submitting.dryrun import JobPlan, plan_job
    from preflight.submitting.registry import make_provider

    providers: dict[str, Any] = {}
    plans: list[JobPlan] = []
    try:
        for line in _lines(video, jobs_file, options):
            try:
                name = line.request.provider if line.request is not None else None
                if name is not None and name not in providers:
                    providers[name] = make_provider(name)
                plans.append(plan_job(line, providers.get(name or "")))
            except ConfigError:
                raise  # usage and configuration: exit 2, as submit would
            except PreflightError as exc:
                if jobs_file is None:
                    raise
                plans.append(JobPlan(line.name, "error", reason=str(exc)))
    finally:
        for provider in providers.values():
            provider.close()
    if fmt == "json":
        click.echo(json.dumps([p.to_dict() for p in plans], indent=2))
    else:
        for plan in plans:
            click.echo(plan.text())
        click.echo(_total_text([p.estimate for p in plans if p.estimate is not None]))
    click.get_current_context().exit(max((p.exit_code for p in plans), default=0))
