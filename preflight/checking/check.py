"""`preflight.check(...)`: resolve the inputs into jobs, judge them, return a `Report`.

Inputs are local paths, ``http(s)://`` URLs and directories (walked, with include/exclude globs),
plus jobs read from a jobs file (`preflight.checking.jobsfile`: JSONL or CSV, one job per line).
The request fields given here (``audio``, ``text``, ``voice_id`` ...) apply to every input; a jobs
line overrides them. The resolution (`preflight.checking.resolve`) applies the defaults the
request would be sent with; the verdict (`preflight.checking.verdict`) probes every media source
once, in parallel, and evaluates each job. One unreadable input never stops the others: it
becomes an ``input.readable`` finding on its own job.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from preflight.checking.config import Config, resolve_config
from preflight.checking.resolve import (
    DEFAULT_INCLUDE,
    Planned,
    ResolvedJob,
    collect,
    media_only,
    plan,
    read_jobs,
    resolve,
    walk,
)
from preflight.checking.verdict import judge
from preflight.model.profile import Profile
from preflight.report.model import Report

__all__ = [  # the planning names are re-exported from their old home
    "DEFAULT_INCLUDE",
    "DEFAULT_PROFILE",
    "Planned",
    "ResolvedJob",
    "check",
    "collect",
    "media_only",
    "plan",
    "read_jobs",
    "resolve",
    "walk",
]

PathLike = str | os.PathLike[str]
DEFAULT_PROFILE = "kling-lipsync"


def check(
    inputs: Iterable[PathLike] = (),
    profile: str | os.PathLike[str] | Profile | None = None,
    *,
    jobs: PathLike | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    config: Config | PathLike | None = None,
    strict: bool = False,
    backend: str = "auto",
    cache: bool = True,
    workers: int | None = None,
    face: bool = True,
    force_face: bool = False,
    preview: PathLike | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    **request: Any,
) -> Report:
    """Check every input against ``profile`` and return the `Report`.

    ``request`` holds the job fields shared by all inputs: ``audio``, ``image`` (paths or URLs),
    ``text``, ``voice_id``, ``voice_language``, ``voice_speed``, ``prompt``, ``negative_prompt``.
    ``config`` is a `Config`, a config file, or None to discover ``preflight.toml`` /
    ``pyproject.toml`` the way the CLI does (`resolve_config`); ``profile`` None takes the
    config's, else ``kling-lipsync``. With no text, voice or audio at all (and no jobs file) the
    media alone are checked: `media_only`. Raises `ConfigError` for a bad profile, an unknown
    field, a missing jobs file or nothing to check; never for a bad input (that is a finding).
    Face checks (``docs/vision.md``) run only when the profile enables a ``face.*`` rule:
    ``face=False`` skips them; a job that already fails an error no fix mends is not analysed
    (`faces.unusable`) unless ``force_face``; ``preview`` writes a contact sheet PNG of the
    sampled frames there (``out-2.png``... for several videos). ``on_progress(step, done,
    total)`` hears how the long steps advance (``probe``, then ``faces`` once per analysed
    video), for a live counter.
    """
    cfg = resolve_config(config)
    if not isinstance(profile, Profile):
        from preflight.rules.profiles import load_profile

        profile = load_profile(profile or cfg.profile or DEFAULT_PROFILE)
    include = tuple(include) or cfg.include
    exclude = tuple(exclude) or cfg.exclude
    if jobs is None and not any(request.get(k) for k in ("text", "voice_id", "audio")):
        profile = media_only(profile)
    resolved = resolve(inputs, profile, jobs=jobs, include=include, exclude=exclude, **request)
    return judge(
        resolved,
        profile,
        cfg,
        strict=strict,
        backend=backend,
        cache=cache,
        workers=workers,
        face=face,
        force_face=force_face,
        preview=preview,
        on_progress=on_progress,
    )
