"""preflight: check media before a lip-sync API sees it, fix what fails, submit what passes.

The library API, one function per step (each also a CLI command)::

    preflight.probe(path) -> MediaFacts            # preflight.probing
    preflight.check(inputs, profile=...) -> Report # preflight.checking
    preflight.plan_fix(...) / preflight.fix(...)   # preflight.fixing
    preflight.submit(...) -> JobResult             # preflight.submitting

Names are loaded on first use (PEP 562), so ``import preflight`` stays cheap: a CLI run that only
checks never imports the fixer, the client or SQLite.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from preflight.checking import check
    from preflight.errors import PreflightError
    from preflight.facts import AudioStream, ImageInfo, MediaFacts, VideoStream
    from preflight.findings import Finding, Severity
    from preflight.fixing import FixOptions, FixPlan, FixResult, fix, plan_fix
    from preflight.job import Job
    from preflight.probing import probe, probe_many
    from preflight.profile import Profile
    from preflight.profiles import load_profile
    from preflight.report import Report
    from preflight.submitting import JobResult, submit

__all__ = [
    "AudioStream",
    "Finding",
    "FixOptions",
    "FixPlan",
    "FixResult",
    "ImageInfo",
    "Job",
    "JobResult",
    "MediaFacts",
    "PreflightError",
    "Profile",
    "Report",
    "Severity",
    "VideoStream",
    "check",
    "fix",
    "load_profile",
    "plan_fix",
    "probe",
    "probe_many",
    "submit",
]

__version__ = "0.1.0"

_HOME = {
    "check": "preflight.checking",
    "PreflightError": "preflight.errors",
    "AudioStream": "preflight.facts",
    "ImageInfo": "preflight.facts",
    "MediaFacts": "preflight.facts",
    "VideoStream": "preflight.facts",
    "Finding": "preflight.findings",
    "Severity": "preflight.findings",
    "FixOptions": "preflight.fixing",
    "FixPlan": "preflight.fixing",
    "FixResult": "preflight.fixing",
    "fix": "preflight.fixing",
    "plan_fix": "preflight.fixing",
    "Job": "preflight.job",
    "probe": "preflight.probing",
    "probe_many": "preflight.probing",
    "Profile": "preflight.profile",
    "load_profile": "preflight.profiles",
    "Report": "preflight.report",
    "JobResult": "preflight.submitting",
    "submit": "preflight.submitting",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'preflight' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
