"""What a job would cost, before anything is sent, and the ``--max-cost`` gate.

The price is the job's profile's ``[pricing]`` (`preflight.model.pricing`), applied to the
seconds the job would send: the input's length as probed, brought into the profile's
``video.duration`` window when fixing is on (the fix trims or extends to it). A profile without a
published price gives an estimate that says so; under ``--max-cost`` such a job is refused, since
nothing can show it stays under the limit.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from preflight.model.errors import InputError
from preflight.model.pricing import Estimate, money, total

if TYPE_CHECKING:
    from preflight.model.profile import Profile
    from preflight.submitting.model import SubmitRequest

__all__ = ["estimate_request", "over_budget"]


def estimate_request(request: SubmitRequest) -> Estimate:
    """The estimate for one job (probes its inputs; sends nothing, writes nothing)."""
    from preflight.rules.profiles import load_profile

    profile = load_profile(request.profile_name)
    pricing = profile.pricing
    if pricing is None:
        return Estimate(
            None, source=f"profile {profile.id} declares no [pricing]", profile=profile.id
        )
    if not pricing.published or pricing.unit == "job":
        return pricing.estimate(None, profile=profile.id)
    role = "audio" if pricing.unit == "audio_second" else "video"
    source = getattr(request, role)
    if source is None:
        return replace(
            pricing.estimate(None, profile=profile.id),
            basis=f"priced by the {role}'s length, and this job sends no {role} file",
        )
    try:
        seconds = _seconds(source)
    except InputError as exc:
        return replace(
            pricing.estimate(None, profile=profile.id),
            basis=f"the {role}'s length could not be read ({exc})",
        )
    sent, note = _as_sent(seconds, profile, role, fix=request.fix)
    found = pricing.estimate(sent, profile=profile.id)
    return replace(found, basis=f"{found.basis} ({note})") if note else found


def _seconds(source: str) -> float | None:
    from preflight.probing import probe

    return probe(source).effective_duration


def _as_sent(
    seconds: float | None, profile: Profile, role: str, *, fix: bool
) -> tuple[float | None, str]:
    """The length the provider would receive: the fix trims or extends into the profile's
    duration window (``video.duration``/``audio.duration``)."""
    rule = f"{role}.duration"
    if seconds is None or not fix or not profile.enabled(rule):
        return seconds, ""
    low = profile.param(rule, "min", None)
    high = profile.param(rule, "max", None)
    if high is not None and seconds > high:
        return float(high), f"{seconds:g} s trimmed to {high:g} s by the fix"
    if low is not None and seconds < low:
        return float(low), f"{seconds:g} s extended to {low:g} s by the fix"
    return seconds, ""


def over_budget(estimates: list[Estimate], max_cost: Decimal) -> str | None:
    """Why ``estimates`` (one job, or a batch) may not run under ``max_cost``; None if they may.

    A job with no published price is refused too: nothing shows it stays under the limit."""
    sums, unpriced = total(estimates)
    if unpriced:
        which = [e.profile or "?" for e in estimates if e.amount is None]
        jobs = f"{unpriced} jobs have" if unpriced != 1 else "1 job has"
        return (
            f"--max-cost {money(max_cost)}: {jobs} no published price "
            f"({', '.join(sorted(set(which)))}), so the cost cannot be bounded; "
            "drop --max-cost to send anyway"
        )
    foreign = sorted(c for c in sums if c != "USD")
    if foreign:
        return f"--max-cost is in USD and the estimate is in {', '.join(foreign)}"
    spent = sums.get("USD", Decimal(0))
    if spent > max_cost:
        what = "the job" if len(estimates) == 1 else f"the {len(estimates)} jobs"
        return f"{what} would cost an estimated {money(spent)}, above --max-cost {money(max_cost)}"
    return None
