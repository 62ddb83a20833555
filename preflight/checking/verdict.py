"""The one verdict: probe resolved jobs once, add the face analysis, evaluate, decide.

`judge_job` is the single place a job's findings come from (face analysis where the profile asks
for it, then the rule engine); `judge` runs it over resolved jobs (`preflight.checking.resolve`)
and returns the `Report`; `passes` is the one pass/fail decision (warnings fail only with
``strict``). `check`, `check --fix`, `fix`'s verification, `submit`, `animate`, `resume` and
the library all come through here, so no two of them can judge one job differently.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from preflight.checking.evaluate import evaluate, is_ok
from preflight.checking.resolve import MEDIA_ROLES, ResolvedJob, local_problem
from preflight.model.errors import InputError, PreflightError
from preflight.model.facts import MediaFacts
from preflight.model.findings import Finding
from preflight.model.job import Job
from preflight.model.profile import Profile
from preflight.model.sources import is_url
from preflight.report.model import Report, Result

if TYPE_CHECKING:
    from preflight.checking.config import Config

__all__ = ["attach_faces", "judge", "judge_job", "passes", "probe_all", "to_job"]

PathLike = str | os.PathLike[str]


def passes(findings: Sequence[Finding], *, strict: bool = False) -> bool:
    """The one pass/fail decision: no error (with ``strict``, no warning either)."""
    return is_ok(list(findings), strict=strict)


def judge_job(
    job: Job,
    profile: Profile,
    config: Config | None = None,
    *,
    face: bool = True,
    preview: PathLike | None = None,
) -> list[Finding]:
    """Every finding for ``job``: the face analysis when the profile (as ``config`` leaves it)
    enables a face rule and ``face`` is on, then every enabled rule. URLs are analysed from a
    copy fetched under the probe's size and time caps (`preflight.checking.faces`)."""
    from preflight.checking.faces import face_settings, with_face_analysis

    settings = face_settings(profile, config)
    if settings and job.video is not None and "face" not in job.analysis:
        job = with_face_analysis(job, settings, enabled=face, preview=preview)
    return evaluate(job, profile, config)


def probe_all(
    sources: Sequence[str], *, backend: str = "auto", cache: bool = True, workers: int | None = None
) -> dict[str, MediaFacts | InputError]:
    """Each source probed once (in parallel); an unreadable one maps to its `InputError`."""
    from preflight.probing import probe_many

    outcome: dict[str, MediaFacts | InputError] = {}
    to_probe: list[str] = []
    for source in sources:
        problem = None if is_url(source) else local_problem(source)
        if problem is not None:
            outcome[source] = InputError(problem, source=source)
        else:
            to_probe.append(source)
    if to_probe:
        try:
            results = probe_many(to_probe, backend=backend, cache=cache, workers=workers)
        except PreflightError:
            raise
        except Exception:  # noqa: BLE001 - a probe bug must not cost the other inputs their verdict
            results = [_probe_alone(s, backend=backend, cache=cache) for s in to_probe]
        outcome.update(zip(to_probe, results, strict=True))
    return outcome


def _probe_alone(source: str, *, backend: str, cache: bool) -> MediaFacts | InputError:
    """One source on its own, an unexpected failure recorded as that input's error."""
    from preflight.probing import probe_many

    try:
        return probe_many([source], backend=backend, cache=cache, workers=1)[0]
    except PreflightError:
        raise
    except Exception as exc:  # noqa: BLE001 - reported as this input's finding, not a traceback
        return InputError(f"could not be probed ({type(exc).__name__}: {exc})", source=source)


def to_job(resolved: ResolvedJob, probed: Mapping[str, MediaFacts | InputError]) -> Job:
    """The rules' view of a resolved job: its probed media, request fields and input errors."""
    media: dict[str, MediaFacts] = {}
    errors = list(resolved.errors)
    for role, source in resolved.sources.items():
        got = probed[source]
        if isinstance(got, MediaFacts):
            media[role] = got
        else:
            where = "" if source == resolved.name else f"{source}: "
            errors.append((role, f"{where}{got}"))
    fields: dict[str, Any] = {k: v for k, v in resolved.fields.items() if v is not None}
    return Job(
        name=resolved.name,
        video=media.get("video"),
        audio=media.get("audio"),
        image=media.get("image"),
        input_errors=tuple(errors),
        **fields,
    )


def judge(
    resolved: Sequence[ResolvedJob],
    profile: Profile,
    config: Config | None = None,
    *,
    strict: bool = False,
    backend: str = "auto",
    cache: bool = True,
    workers: int | None = None,
    face: bool = True,
    force_face: bool = False,
    preview: PathLike | None = None,
    on_progress: Progress | None = None,
) -> Report:
    """The `Report` for ``resolved`` jobs under ``profile`` (a job naming its own profile is
    judged against that one); every source is probed once, in parallel.

    ``on_progress(step, done, total)`` hears how the long steps advance (``probe``, then
    ``faces`` at 0 before the first video is decoded and once per analysed video), for a live
    counter. ``force_face`` analyses even a job that already fails for good (`faces.unusable`)."""
    from preflight.checking.faces import face_settings, face_timeline, preview_path

    tell = on_progress or _silent
    sources = list(dict.fromkeys(s for p in resolved for s in p.sources.values()))
    tell("probe", 0, len(sources))
    probed = probe_all(sources, backend=backend, cache=cache, workers=workers) if sources else {}
    tell("probe", len(sources), len(sources))
    videos = [p.name for p in resolved if "video" in p.sources]
    profiles: dict[str, Profile] = {}
    to_analyse = sum(
        isinstance(probed.get(p.sources.get("video", "")), MediaFacts) for p in resolved
    )
    analysed = 0
    results = []
    for p in resolved:
        job = to_job(p, probed)
        sheet = None
        if preview is not None and p.name in videos:
            sheet = preview_path(preview, videos.index(p.name), len(videos))
        own = _own_profile(p.profile, profiles) if p.profile else profile
        settings = face_settings(own, config)
        if settings and job.video is not None:
            if face and analysed == 0:  # the counter shows before the first frames are decoded
                tell("faces", 0, to_analyse)
            job = attach_faces(job, own, config, face=face, force=force_face, preview=sheet)
            if face:
                analysed += 1
                tell("faces", analysed, to_analyse)
        findings = judge_job(job, own, config, face=face, preview=sheet)
        media = {r: m for r in MEDIA_ROLES if (m := getattr(job, r)) is not None}
        results.append(
            Result(
                name=p.name,
                ok=passes(findings, strict=strict),
                findings=tuple(findings),
                facts=media,
                location=p.location,
                line=p.line,
                timeline=face_timeline(job, settings) if settings else None,
            )
        )
    return Report(profile=profile.id, results=tuple(results), strict=strict)


Progress = Callable[[str, int, int], None]


def _silent(step: str, done: int, total: int) -> None:
    """The default progress listener: hears nothing."""


def attach_faces(
    job: Job,
    profile: Profile,
    config: Config | None,
    *,
    face: bool,
    force: bool = False,
    preview: PathLike | None,
) -> Job:
    """``job`` with its face analysis attached (once: `judge_job` then reuses it); for a job that
    already fails an error no fix mends, the reason it was skipped instead (unless ``force``)."""
    from preflight.checking.faces import face_settings, unusable, with_face_analysis

    settings = face_settings(profile, config)
    if not settings or job.video is None or "face" in job.analysis:
        return job
    skip = unusable(job, profile, config) if face and not force else None
    return with_face_analysis(job, settings, enabled=face, skip=skip, preview=preview)


def _own_profile(name: str, loaded: dict[str, Profile]) -> Profile:
    if name not in loaded:
        from preflight.rules.profiles import load_profile

        loaded[name] = load_profile(name)
    return loaded[name]
