"""preflight: check media before a lip-sync API sees it, fix what fails, submit what passes."""

from __future__ import annotations

from preflight.errors import PreflightError
from preflight.facts import AudioStream, ImageInfo, MediaFacts, VideoStream
from preflight.findings import Finding, Severity
from preflight.job import Job
from preflight.profile import Profile

__all__ = [
    "AudioStream",
    "Finding",
    "ImageInfo",
    "Job",
    "MediaFacts",
    "PreflightError",
    "Profile",
    "Severity",
    "VideoStream",
]

__version__ = "0.1.0"
