"""Prove a fix: probe the output, check it against the same profile, say what moved and the cost.

The output is read with `preflight.probing` (the same probe `check` uses) and judged with the one
verdict, `preflight.checking.verdict.judge_job`: the findings the fixer answers for (`input.*`,
and `video.*` or `audio.*` by the input's role) steer the retries, and the face rules
(`face_verdict`) run on the output before it is moved into place, so `fix` never calls an output
good that `check` would fail. Quality is SSIM of the output against the source passed through
the plan's own timing and geometry, so only the encoding loss is measured.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflight.checking.verdict import judge_job
from preflight.fixing.graph import ssim_args
from preflight.fixing.plan import FixPlan
from preflight.fixing.planner import relevant
from preflight.model.facts import MediaFacts
from preflight.model.findings import Finding, Severity
from preflight.model.job import Job
from preflight.model.profile import Profile
from preflight.toolchain.runner import has_filters, run

if TYPE_CHECKING:
    from preflight.checking.config import Config

__all__ = ["Change", "changes", "check_facts", "errors_in", "face_verdict", "measure_ssim"]

# facts that always differ between two files and say nothing about the fix
_NOISE = {"source", "backend", "extension_source"}


@dataclass(frozen=True, slots=True)
class Change:
    """One fact that moved: ``key`` is dotted (``video.width``)."""

    key: str
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "before": self.before, "after": self.after}


def job_for(facts: MediaFacts, role: str, name: str | None = None) -> Job:
    name = name or facts.source
    return Job(name=name, video=facts) if role == "video" else Job(name=name, audio=facts)


def check_facts(
    facts: MediaFacts, profile: Profile, role: str, config: Config | None = None
) -> list[Finding]:
    """The findings the fixer answers for, for ``facts`` as a ``role`` input (no face analysis:
    the fixer cannot change what the picture shows; `face_verdict` judges that)."""
    findings = judge_job(job_for(facts, role), profile, config, face=False)
    return [f for f in findings if relevant(f.rule, role)]


def face_verdict(
    facts: MediaFacts, profile: Profile, role: str, config: Config | None = None
) -> list[Finding]:
    """The face findings ``check`` would give ``facts`` (an output, or an input left as it is):
    empty for audio, or when the profile (as ``config`` leaves it) enables no face rule."""
    from preflight.checking.faces import face_settings

    if role != "video" or facts.video is None or not face_settings(profile, config):
        return []
    findings = judge_job(job_for(facts, role), profile, config, face=True)
    return [f for f in findings if f.rule.startswith("face.")]


def errors_in(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def changes(before: MediaFacts, after: MediaFacts) -> list[Change]:
    """Every fact that differs between ``before`` and ``after`` (the file name aside)."""
    old, new = _flatten(before.to_dict()), _flatten(after.to_dict())
    moved = []
    for key in sorted(set(old) | set(new)):
        if key in _NOISE:
            continue
        a, b = old.get(key), new.get(key)
        if isinstance(a, float) and isinstance(b, float) and abs(a - b) < 1e-3:
            continue
        if a != b:
            moved.append(Change(key, a, b))
    return moved


def measure_ssim(
    plan: FixPlan, output: str | os.PathLike[str], *, threads: int | None = None
) -> float | None:
    """Mean SSIM (all planes) of ``output`` against the plan's reference; None without ``ssim``.
    ``threads`` bounds FFmpeg's decoders and filters (None: its own choice)."""
    if plan.video is None or plan.video.codec == "copy" or not has_filters("ssim"):
        return None
    with tempfile.TemporaryDirectory(prefix="preflight-ssim-") as tmp:
        stats = Path(tmp) / "ssim.log"
        run(ssim_args(plan, output, str(stats), threads=threads), duration=plan.duration)
        values = []
        for line in stats.read_text().splitlines():
            for field in line.split():
                if field.startswith("All:"):
                    values.append(float(field[4:]))
    return sum(values) / len(values) if values else None
