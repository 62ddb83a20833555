"""preflight: check media before a lip-sync API sees it, fix what fails, submit what passes.

The library API, one function per step (each also a CLI command)::

    preflight.probe(path) -> MediaFacts            # preflight.probing
    preflight.check(inputs, profile=...) -> Report # preflight.checking.check
    preflight.plan_fix(...) / preflight.fix(...)   # preflight.fixing
    preflight.submit(...) -> JobResult             # preflight.submitting

Names are loaded on first use (PEP 562), so ``import preflight`` stays cheap: a CLI run that only
checks never imports the fixer, the client or SQLite.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from preflight.checking.check import check
    from preflight.fixing import FixOptions, FixPlan, FixResult, fix, plan_fix
    from preflight.model.errors import PreflightError
    from preflight.model.facts import AudioStream, ImageInfo, MediaFacts, VideoStream
    from preflight.model.findings import Finding, Severity
    from preflight.model.job import Job
    from preflight.model.profile import Profile
    from preflight.probing import probe, probe_many
    from preflight.report import Report
    from preflight.rules.profiles import load_profile
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

from preflight.model.version import __version__ as __version__

_HOME = {
    "check": "preflight.checking.check",
    "PreflightError": "preflight.model.errors",
    "AudioStream": "preflight.model.facts",
    "ImageInfo": "preflight.model.facts",
    "MediaFacts": "preflight.model.facts",
    "VideoStream": "preflight.model.facts",
    "Finding": "preflight.model.findings",
    "Severity": "preflight.model.findings",
    "FixOptions": "preflight.fixing",
    "FixPlan": "preflight.fixing",
    "FixResult": "preflight.fixing",
    "fix": "preflight.fixing",
    "plan_fix": "preflight.fixing",
    "Job": "preflight.model.job",
    "probe": "preflight.probing",
    "probe_many": "preflight.probing",
    "Profile": "preflight.model.profile",
    "load_profile": "preflight.rules.profiles",
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
    """The public API only: what `__all__` names, and the version (not this module's helpers,
    nor the subpackages an import happened to load)."""
    return sorted({*__all__, "__version__"})
