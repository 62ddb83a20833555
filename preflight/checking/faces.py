"""Glue between a check run and the face analysis: when to run it, and what to attach to a job.

`preflight.check` calls `face_settings` once per run and, only when some face rule is enabled,
`with_face_analysis` per job: the analysis runs only for jobs with a video stream, and imports
OpenCV only then. Any problem (extra missing, video undecodable or a URL) becomes a
`FaceSkipped` reason that the face rules report as an info finding.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from preflight.model.errors import FFmpegError
from preflight.model.job import Job
from preflight.model.sources import is_url
from preflight.vision import DEFAULT_RATE, available

if TYPE_CHECKING:  # analysis, detector and sampler load only when a face check really runs
    from preflight.checking.config import Config
    from preflight.model.profile import Profile
    from preflight.report.model import Timeline
    from preflight.vision.analysis import FaceAnalysis, FaceSkipped

__all__ = ["FACE_RULES", "face_settings", "face_timeline", "preview_path", "with_face_analysis"]

FACE_RULES = (
    "face.present",
    "face.count",
    "face.size",
    "face.pose",
    "face.mouth",
    "face.lighting",
    "face.sharpness",
    "face.stability",
)


def face_settings(profile: Profile, config: Config | None = None) -> dict[str, Mapping[str, Any]]:
    """The enabled face rules of ``profile`` (as ``config`` leaves them) and their parameters."""
    from preflight.rules.registry import get

    enabled: dict[str, Mapping[str, Any]] = {}
    for rule_id in FACE_RULES:
        setting = profile.rules.get(rule_id)
        override = config.rules.get(rule_id) if config is not None else None
        on = setting.enabled if setting is not None else False
        if override is not None and override.enabled is not None:
            on = override.enabled
        if on:
            enabled[rule_id] = setting.params if setting is not None else get(rule_id).defaults()
    return enabled


def preview_path(base: str | os.PathLike[str], index: int, count: int) -> str:
    """Where the contact sheet of the ``index``-th of ``count`` videos goes (``out-2.png``)."""
    path = os.fspath(base)
    if count <= 1:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}-{index + 1}{ext or '.png'}"


def with_face_analysis(
    job: Job,
    settings: Mapping[str, Mapping[str, Any]],
    *,
    enabled: bool = True,
    skip: str | None = None,
    rate: float = DEFAULT_RATE,
    preview: str | os.PathLike[str] | None = None,
) -> Job:
    """``job`` with ``analysis["face"]`` set, for the face rules in ``settings`` (`face_settings`).

    The contact sheet written to ``preview`` marks the samples that fail them. With ``skip`` the
    analysis records that reason instead of running (the rules report it as skipped). Jobs
    without a video stream, any job when ``settings`` is empty, and every job when ``enabled`` is
    False (``--no-face``: the user turned the face rules off, as a config switch would) come back
    unchanged: the face rules then have nothing to judge and say nothing.
    """
    if not enabled:
        return job
    result = _result(job, settings, skip=skip, preview=preview, rate=rate)
    if result is None:
        return job
    return replace(job, analysis={**job.analysis, "face": result})


def _result(
    job: Job,
    settings: Mapping[str, Mapping[str, Any]],
    *,
    skip: str | None,
    preview: str | os.PathLike[str] | None,
    rate: float,
) -> FaceAnalysis | FaceSkipped | None:
    facts = job.video
    if facts is None or facts.video is None or not settings:
        return None
    from preflight.vision.analysis import FaceSkipped

    if skip is not None:
        return FaceSkipped(f"face checks skipped: {skip}")
    if not available():
        from preflight.rules.face import SKIPPED

        return FaceSkipped(SKIPPED)
    if is_url(facts.source):
        return FaceSkipped("face checks skipped: the video is a URL (check a local copy)")
    return _analyse(job, settings, rate=rate, preview=preview)


def _analyse(
    job: Job,
    settings: Mapping[str, Mapping[str, Any]],
    *,
    rate: float,
    preview: str | os.PathLike[str] | None,
) -> FaceAnalysis | FaceSkipped:
    from preflight.vision.analysis import FaceSkipped, analyse_with_frames
    from preflight.vision.detector import VisionUnavailableError

    facts = job.video
    assert facts is not None
    stream = facts.video
    assert stream is not None
    if not stream.width or not stream.height:
        return FaceSkipped("face checks skipped: the video's display size is unknown")
    try:
        analysis, frames = analyse_with_frames(
            facts.source,
            stream.width,
            stream.height,
            duration=facts.effective_duration,
            rate=rate,
            keep=preview is not None,
        )
    except FFmpegError as exc:
        first = str(exc).splitlines()[0]
        return FaceSkipped(f"face checks skipped: frames could not be decoded ({first})")
    except VisionUnavailableError as exc:
        return FaceSkipped(f"face checks skipped: {exc}")
    if preview is not None:
        from preflight.rules.face import sample_failures
        from preflight.vision.contact_sheet import write_contact_sheet

        write_contact_sheet(analysis, frames, sample_failures(analysis, settings), preview)
    return analysis


def face_timeline(job: Job, settings: Mapping[str, Mapping[str, Any]]) -> Timeline | None:
    """Per face rule, the spans of ``job``'s clip that pass, fail, or have no face to judge
    (``none``; `face.present` has no such span: no face is its failure). None without analysis.

    Sample ``i`` stands for ``[t_i, t_i + interval)``, as in the findings' ranges; neighbouring
    samples with the same verdict merge into one span, so a clip is a handful of bars.
    """
    from preflight.report.model import Timeline

    analysis = job.analysis.get("face")
    if analysis is None or not settings or not hasattr(analysis, "samples"):
        return None
    if not analysis.samples:
        return Timeline(duration=analysis.duration)
    from preflight.rules.face import failing, runs

    tracks: dict[str, tuple[tuple[float, float, str], ...]] = {}
    for rule_id, params in settings.items():
        flags = failing(rule_id, analysis, params)
        states = [
            "fail" if bad else "none" if rule_id != "face.present" and not s.faces else "pass"
            for bad, s in zip(flags, analysis.samples, strict=True)
        ]
        spans: list[tuple[float, float, str]] = []
        for state in ("pass", "fail", "none"):
            for first, last in runs([s == state for s in states]):
                start, end = analysis.span(first, last)
                spans.append((start, end, state))
        tracks[rule_id] = tuple(sorted(spans))
    return Timeline(duration=analysis.duration, tracks=tracks)
