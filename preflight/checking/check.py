"""`preflight.check(...)`: collect inputs, probe them once, evaluate each job, return a `Report`.

Inputs are local paths, ``http(s)://`` URLs and directories (walked, with include/exclude globs),
plus jobs read from a JSONL file (one lip-sync job per line). The request fields given here
(``audio``, ``text``, ``voice_id`` ...) apply to every input; a jobs line overrides them. Every
media source is probed once, in parallel (`preflight.probing.probe_many`). One unreadable input
never stops the others: it becomes an ``input.readable`` finding on its own job.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from preflight.checking.config import Config
from preflight.checking.evaluate import evaluate, is_ok
from preflight.checking.jobsfile import JobsFile, read_jobs_file
from preflight.model.errors import ConfigError, InputError, PreflightError
from preflight.model.facts import MediaFacts
from preflight.model.job import Job
from preflight.model.profile import Profile
from preflight.model.sources import is_url
from preflight.report.model import Report, Result

__all__ = ["DEFAULT_INCLUDE", "OWN_OUTPUTS", "check", "collect", "read_jobs"]

PathLike = str | os.PathLike[str]

DEFAULT_INCLUDE = {
    "video": (
        "*.mp4", "*.mov", "*.m4v", "*.mkv", "*.webm", "*.avi", "*.mpg", "*.mpeg", "*.ts",
        "*.mts", "*.m2ts", "*.flv", "*.wmv", "*.3gp", "*.qt",
    ),
    "image": ("*.jpg", "*.jpeg", "*.png", "*.webp", "*.bmp", "*.gif", "*.tif", "*.tiff", "*.heic"),
}  # fmt: skip

# what preflight itself writes beside an input (`fix`, `submit`): a directory walk skips them
# unless an --include glob names them, so re-checking a folder does not check the outputs too
OWN_OUTPUTS = ("*.fixed.*", "*.lipsync.*")

_MEDIA_ROLES = ("video", "audio", "image")
_JOB_FIELDS = {
    "name": str,
    "video": str,
    "audio": str,
    "image": str,
    "text": str,
    "voice_id": str,
    "voice_language": str,
    "voice_speed": float,
    "prompt": str,
    "negative_prompt": str,
}


@dataclass(frozen=True, slots=True)
class Planned:
    """A job before probing: media sources by role, request fields, and errors found already."""

    name: str
    sources: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[tuple[str, str], ...] = ()
    location: str = ""
    line: int | None = None


def _local_problem(path: str) -> str | None:
    """Why a local file cannot be a media input, or None when it looks usable."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "no such file or directory"
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size == 0:
        return "empty file (0 bytes)"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


def _matches(rel: str, patterns: Iterable[str]) -> bool:
    name = rel.rsplit("/", 1)[-1].lower()
    low = rel.lower()
    return any(
        fnmatch.fnmatchcase(low, p.lower()) or fnmatch.fnmatchcase(name, p.lower())
        for p in patterns
    )


def walk(
    directory: str, include: Iterable[str], exclude: Iterable[str], *, skip: Iterable[str] = ()
) -> tuple[list[str], list[tuple[str, str]]]:
    """Media files under ``directory`` (sorted, hidden entries skipped) and unreadable folders.

    Files matching ``skip`` (e.g. `OWN_OUTPUTS`) are left out like excluded ones."""
    include, exclude = tuple(include), (*exclude, *skip)
    found: list[str] = []
    problems: list[tuple[str, str]] = []

    def onerror(exc: OSError) -> None:
        where = exc.filename or directory
        reason = "permission denied" if isinstance(exc, PermissionError) else exc.strerror
        problems.append((str(where), f"cannot read directory {where}: {reason}"))

    for root, dirs, files in os.walk(directory, onerror=onerror):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            full = os.path.normpath(os.path.join(root, name))
            rel = os.path.relpath(full, directory).replace(os.sep, "/")
            if _matches(rel, include) and not _matches(rel, exclude):
                found.append(full)
    return found, problems


def collect(
    inputs: Iterable[PathLike],
    *,
    role: str,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    fields: Mapping[str, Any] | None = None,
) -> list[Planned]:
    """One planned job per input file or URL; directories expand to the media inside them
    (preflight's own outputs, `OWN_OUTPUTS`, only when an ``include`` glob is given)."""
    skip = () if include else OWN_OUTPUTS
    include = tuple(include) or DEFAULT_INCLUDE.get(role, ("*",))
    exclude = tuple(exclude)
    shared = dict(fields or {})
    planned: list[Planned] = []
    for item in inputs:
        source = os.fspath(item)
        if is_url(source):
            planned.append(Planned(source, {role: source}, shared))
            continue
        if os.path.isdir(source):
            files, problems = walk(source, include, exclude, skip=skip)
            for where, message in problems:
                planned.append(Planned(where, {}, shared, ((role, message),)))
            if not files and not problems:
                message = f"directory {source} has no media files (looked for {', '.join(include)})"
                planned.append(Planned(source, {}, shared, ((role, message),)))
            planned.extend(Planned(f, {role: f}, shared) for f in files)
            continue
        planned.append(Planned(source, {role: source}, shared))
    return planned


def read_jobs(path: PathLike, *, defaults: Mapping[str, Any] | None = None) -> list[Planned]:
    """Jobs from a JSONL file (`preflight.checking.jobsfile`): one JSON object per line.

    Keys: ``video``, ``audio``, ``image`` (paths relative to the jobs file, or URLs), ``text``,
    ``voice_id``, ``voice_language``, ``voice_speed``, ``prompt``, ``negative_prompt``, ``name``.
    A line that is not valid becomes a job with an ``input.readable`` finding; a missing jobs file
    is a `ConfigError`. ``-`` reads standard input (paths relative to the working directory).
    """
    jobs = read_jobs_file(path)
    planned: list[Planned] = []
    for line in jobs.lines:
        name = f"{jobs.label}:{line.lineno}"
        try:
            if line.data is None:
                raise ValueError(line.error)
            planned.append(_job_line(line.data, name, jobs, defaults or {}, line.lineno))
        except ValueError as exc:
            planned.append(Planned(name, {}, {}, (("job", str(exc)),), jobs.label, line.lineno))
    return planned


def _job_line(
    data: dict[str, Any], name: str, jobs: JobsFile, defaults: Mapping[str, Any], lineno: int
) -> Planned:
    for key, value in data.items():
        kind = _JOB_FIELDS.get(key)
        if kind is None:
            raise ValueError(f"unknown key {key!r} (allowed: {', '.join(_JOB_FIELDS)})")
        if value is None:
            continue
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"key {key!r} must be a number")
        elif not isinstance(value, str):
            raise ValueError(f"key {key!r} must be a string")
    sources = {role: jobs.resolve(data[role]) for role in _MEDIA_ROLES if data.get(role)}
    fields = {k: v for k, v in defaults.items() if k not in _MEDIA_ROLES}
    fields.update({k: v for k, v in data.items() if k not in (*_MEDIA_ROLES, "name")})
    if "voice_speed" in fields and fields["voice_speed"] is not None:
        fields["voice_speed"] = float(fields["voice_speed"])
    return Planned(data.get("name") or name, sources, fields, (), jobs.label, lineno)


def _primary_role(profile: Profile) -> str:
    requires = profile.param("job.inputs", "requires", ())
    return "image" if "image" in requires and "video" not in requires else "video"


def _probe_all(
    sources: list[str], *, backend: str, cache: bool, workers: int | None
) -> dict[str, MediaFacts | InputError]:
    from preflight.probing import probe_many

    outcome: dict[str, MediaFacts | InputError] = {}
    to_probe: list[str] = []
    for source in sources:
        problem = None if is_url(source) else _local_problem(source)
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


def _job(plan: Planned, probed: Mapping[str, MediaFacts | InputError]) -> Job:
    media: dict[str, MediaFacts] = {}
    errors = list(plan.errors)
    for role, source in plan.sources.items():
        got = probed[source]
        if isinstance(got, MediaFacts):
            media[role] = got
        else:
            where = "" if source == plan.name else f"{source}: "
            errors.append((role, f"{where}{got}"))
    return Job(
        name=plan.name,
        video=media.get("video"),
        audio=media.get("audio"),
        image=media.get("image"),
        input_errors=tuple(errors),
        **{k: v for k, v in plan.fields.items() if v is not None},
    )


def plan(
    inputs: Iterable[PathLike],
    profile: Profile,
    *,
    jobs: PathLike | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    **request: Any,
) -> list[Planned]:
    """Every job this run will check, before probing."""
    unknown = set(request) - set(_JOB_FIELDS) | ({"name"} & set(request))
    if unknown:
        raise ConfigError(f"unknown request field(s): {', '.join(sorted(unknown))}")
    role = _primary_role(profile)
    fields = {k: v for k, v in request.items() if k not in _MEDIA_ROLES and v is not None}
    if fields.get("voice_speed") is not None:
        fields["voice_speed"] = float(fields["voice_speed"])
    shared_media = {
        r: os.fspath(v) for r, v in request.items() if r in _MEDIA_ROLES and v is not None
    }
    inputs = list(inputs)
    if role in shared_media:  # `--image I` on an image profile is one more input
        inputs.append(shared_media.pop(role))
    planned = collect(inputs, role=role, include=include, exclude=exclude, fields=fields)
    planned = [replace(p, sources={**shared_media, **p.sources}) for p in planned]
    if jobs is not None:
        from_file = read_jobs(jobs, defaults=fields)
        planned += [
            replace(p, sources={**shared_media, **p.sources}) if not p.errors else p
            for p in from_file
        ]
    if not planned:
        raise ConfigError("nothing to check: give paths, URLs or directories, or --jobs FILE")
    return planned


def media_only(profile: Profile) -> Profile:
    """``profile`` for a check of the media alone (no text, voice or audio given anywhere).

    ``job.inputs`` then stops asking for text or audio (its ``modes`` become empty) but still
    requires the media; every media rule applies as usual.
    """
    setting = profile.rules.get("job.inputs")
    if setting is None or not setting.params.get("modes"):
        return profile
    params = MappingProxyType({**setting.params, "modes": ()})
    rules = MappingProxyType({**profile.rules, "job.inputs": replace(setting, params=params)})
    return replace(profile, rules=rules)


def _silent(step: str, done: int, total: int) -> None:
    """The default progress listener: nobody is listening."""


def check(
    inputs: Iterable[PathLike] = (),
    profile: str | os.PathLike[str] | Profile = "kling-lipsync",
    *,
    jobs: PathLike | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    config: Config | None = None,
    strict: bool = False,
    backend: str = "auto",
    cache: bool = True,
    workers: int | None = None,
    face: bool = True,
    preview: PathLike | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    **request: Any,
) -> Report:
    """Check every input against ``profile`` and return the `Report`.

    ``request`` holds the job fields shared by all inputs: ``audio``, ``image`` (paths or URLs),
    ``text``, ``voice_id``, ``voice_language``, ``voice_speed``, ``prompt``, ``negative_prompt``.
    With no text, voice or audio at all (and no jobs file) the media alone are checked:
    `media_only`. Raises `ConfigError` for a bad profile, an unknown field, a missing jobs file or
    nothing to check; never for a bad input (that is a finding). Face checks (``docs/vision.md``)
    run only when the profile enables a ``face.*`` rule: ``face=False`` skips them, ``preview``
    writes a contact sheet PNG of the sampled frames there (``out-2.png``... for several videos).
    ``on_progress(step, done, total)`` hears how the long steps advance (``probe``, then
    ``faces`` once per analysed video), for a live counter.
    """
    if not isinstance(profile, Profile):
        from preflight.rules.profiles import load_profile

        profile = load_profile(profile)
    if config is not None:
        include = tuple(include) or config.include
        exclude = tuple(exclude) or config.exclude
    if jobs is None and not any(request.get(k) for k in ("text", "voice_id", "audio")):
        profile = media_only(profile)
    planned = plan(inputs, profile, jobs=jobs, include=include, exclude=exclude, **request)
    sources = list(dict.fromkeys(s for p in planned for s in p.sources.values()))
    tell = on_progress or _silent
    tell("probe", 0, len(sources))
    probed = _probe_all(sources, backend=backend, cache=cache, workers=workers) if sources else {}
    tell("probe", len(sources), len(sources))
    from preflight.checking.faces import (
        face_settings,
        face_timeline,
        preview_path,
        with_face_analysis,
    )

    faces = face_settings(profile, config)
    videos = [p.name for p in planned if "video" in p.sources]
    analysed = 0
    to_analyse = 0
    if faces and face:
        to_analyse = sum(
            isinstance(probed.get(p.sources.get("video", "")), MediaFacts) for p in planned
        )
    results = []
    for p in planned:
        job = _job(p, probed)
        if faces and job.video is not None:
            sheet = preview and preview_path(preview, videos.index(p.name), len(videos))
            job = with_face_analysis(job, faces, enabled=face, preview=sheet)
            if to_analyse:
                analysed += 1
                tell("faces", analysed, to_analyse)
        findings = evaluate(job, profile, config)
        media = {r: m for r in _MEDIA_ROLES if (m := getattr(job, r)) is not None}
        results.append(
            Result(
                name=p.name,
                ok=is_ok(findings, strict=strict),
                findings=tuple(findings),
                facts=media,
                location=p.location,
                line=p.line,
                timeline=face_timeline(job, faces) if faces else None,
            )
        )
    return Report(profile=profile.id, results=tuple(results), strict=strict)
