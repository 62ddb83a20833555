"""What a job would cost, before anything is sent, and the ``--max-cost`` gate.

The price is the job's profile's ``[pricing]`` (`preflight.model.pricing`), applied to the
seconds the job would send: the input's length as probed or, when fixing is on and the input
fails, the length of the output the fix planner plans for it (`preflight.fixing.plan_fix`, the
same plan `fix`, `submit` and `--dry-run` carry out or show). A profile without a
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
    from preflight.model.facts import MediaFacts
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
        facts = _facts(source)
    except InputError as exc:
        return replace(
            pricing.estimate(None, profile=profile.id),
            basis=f"the {role}'s length could not be read ({exc})",
        )
    sent, note = _as_sent(source, facts, profile, request, role) if request.fix else (None, "")
    found = pricing.estimate(
        sent if sent is not None else facts.effective_duration, profile=profile.id
    )
    return replace(found, basis=f"{found.basis} ({note})") if note else found


def _facts(source: str) -> MediaFacts:
    from preflight.probing import probe

    return probe(source)


def _as_sent(
    source: str, facts: MediaFacts, profile: Profile, request: SubmitRequest, role: str
) -> tuple[float | None, str]:
    """The length of what the fix would send in place of ``source`` (None: the input as it is),
    and how it came to be: the fix planner's own plan, so the estimate prices the output the
    fix writes, frame-exact (a 15 s clip trimmed to the 10 s limit sends 9.96 s at 25 fps)."""
    import dataclasses

    from preflight.checking.config import resolve_config
    from preflight.fixing import FixOptions, plan_fix

    seconds = facts.effective_duration
    plan = plan_fix(
        source,
        profile=profile,
        # nothing is written: the plan only names a target, with the suffix submit's fix uses
        output="preflight-estimate.mp4" if role == "video" else "preflight-estimate.m4a",
        options=dataclasses.replace(FixOptions(), face=False),
        config=resolve_config(request.config),
        facts=facts,
    )
    if plan.target is None or plan.duration is None or seconds is None:
        return None, ""  # nothing to fix, cannot be fixed, or the whole input: as it is
    if abs(plan.duration - seconds) < 0.0005:
        return plan.duration, ""
    verb = "trimmed" if plan.duration < seconds else "extended"
    return plan.duration, f"{seconds:g} s {verb} to {round(plan.duration, 3):g} s by the fix"


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
