"""preflight: check media before a lip-sync API sees it, fix what fails, submit what passes."""

from __future__ import annotations

from preflight.checking import check
from preflight.errors import PreflightError
from preflight.facts import AudioStream, ImageInfo, MediaFacts, VideoStream
from preflight.findings import Finding, Severity
from preflight.fix import FixOptions, FixPlan, FixResult, fix, plan_fix
from preflight.job import Job
from preflight.profile import Profile
from preflight.report import Report
from preflight.submit import JobResult, submit

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
    "plan_fix",
    "submit",
]

__version__ = "0.1.0"
