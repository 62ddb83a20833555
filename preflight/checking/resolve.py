"""Resolve a job once into exactly what would be sent: media sources, request fields, profile.

Every command starts here: `check` (paths, directories, URLs, ``--jobs``), `fix --jobs`,
`submit` and the library. A `ResolvedJob` carries the fields the provider would receive with the
defaults applied (`apply_defaults`: ``voice_language`` ``en`` and ``voice_speed`` 1.0 with text,
the values `submit` sends), so the verdict (`preflight.checking.verdict`) judges the request the
provider would see, never a half-filled one that fails for a default nobody would send.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from preflight.model.errors import ConfigError
from preflight.model.profile import Profile
from preflight.model.sources import is_url

if TYPE_CHECKING:
    from preflight.checking.jobsfile import JobSpec

__all__ = [
    "DEFAULT_INCLUDE",
    "DEFAULT_VOICE_LANGUAGE",
    "DEFAULT_VOICE_SPEED",
    "MEDIA_ROLES",
    "OWN_OUTPUTS",
    "REQUEST_FIELDS",
    "Planned",
    "ResolvedJob",
    "apply_defaults",
    "collect",
    "local_problem",
    "media_only",
    "profile_for",
    "read_jobs",
    "resolve",
    "walk",
]

PathLike = str | os.PathLike[str]

DEFAULT_VOICE_LANGUAGE = "en"  # what submit sends and WaveSpeed documents; Kling's own is unclear
DEFAULT_VOICE_SPEED = 1.0

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

MEDIA_ROLES = ("video", "audio", "image")
# the request fields a job carries besides its media (what the rules read)
REQUEST_FIELDS = (
    "text",
    "voice_id",
    "voice_language",
    "voice_speed",
    "prompt",
    "negative_prompt",
)


@dataclass(frozen=True, slots=True)
class ResolvedJob:
    """One job as it would be sent: media sources by role, request fields with defaults applied,
    errors found already (before probing), where it came from, and its own profile if it names
    one (a jobs line's ``profile`` or ``provider``; None: the run's profile)."""

    name: str
    sources: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[tuple[str, str], ...] = ()
    location: str = ""
    line: int | None = None
    profile: str | None = None


Planned = ResolvedJob  # the name this had before it became the one resolution


def apply_defaults(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` as they would be sent: a text job gets ``voice_language`` ``en`` and
    ``voice_speed`` 1.0 unless given (the values `submit` sends); None values are dropped."""
    sent = {k: v for k, v in fields.items() if v is not None}
    if sent.get("voice_speed") is not None:
        sent["voice_speed"] = float(sent["voice_speed"])
    if sent.get("text") is not None and not sent.get("audio"):
        sent.setdefault("voice_language", DEFAULT_VOICE_LANGUAGE)
        sent.setdefault("voice_speed", DEFAULT_VOICE_SPEED)
    return sent


def profile_for(provider: str, mode: str) -> str:
    """The profile a provider's ``mode`` (``text`` or ``audio``) endpoint is checked against:
    the shipped profile declaring ``default_for`` it (`preflight.rules.profiles.default_profile`,
    which `submit` reads too)."""
    from preflight.rules.profiles import default_profile

    return default_profile(provider, mode)


def local_problem(path: str) -> str | None:
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
) -> list[ResolvedJob]:
    """One job per input file or URL; directories expand to the media inside them
    (preflight's own outputs, `OWN_OUTPUTS`, only when an ``include`` glob is given)."""
    skip = () if include else OWN_OUTPUTS
    include = tuple(include) or DEFAULT_INCLUDE.get(role, ("*",))
    exclude = tuple(exclude)
    shared = apply_defaults(fields or {})
    jobs: list[ResolvedJob] = []
    for item in inputs:
        source = os.fspath(item)
        if is_url(source):
            jobs.append(ResolvedJob(source, {role: source}, shared))
            continue
        if os.path.isdir(source):
            files, problems = walk(source, include, exclude, skip=skip)
            for where, message in problems:
                jobs.append(ResolvedJob(where, {}, shared, ((role, message),)))
            if not files and not problems:
                message = f"directory {source} has no media files (looked for {', '.join(include)})"
                jobs.append(ResolvedJob(source, {}, shared, ((role, message),)))
            jobs.extend(ResolvedJob(f, {role: f}, shared) for f in files)
            continue
        jobs.append(ResolvedJob(source, {role: source}, shared))
    return jobs


def read_jobs(path: PathLike, *, defaults: Mapping[str, Any] | None = None) -> list[ResolvedJob]:
    """Jobs from a jobs file (`preflight.checking.jobsfile`: JSONL or CSV, one schema).

    A line that is not valid becomes a job with an ``input.readable`` finding; a missing jobs
    file is a `ConfigError`. ``-`` reads standard input (paths relative to the working
    directory). ``defaults`` are the command line's request fields; a line overrides them.
    """
    from preflight.checking.jobsfile import read_jobs_file  # csv, json: only for --jobs

    jobs = read_jobs_file(path)
    resolved: list[ResolvedJob] = []
    for line in jobs.lines:
        name = f"{jobs.label}:{line.lineno}"
        if line.spec is None:
            error = line.error or "not a job"
            resolved.append(ResolvedJob(name, {}, {}, (("job", error),), jobs.label, line.lineno))
            continue
        resolved.append(from_spec(line.spec, name, defaults or {}, jobs.label, line.lineno))
    return resolved


def from_spec(
    spec: JobSpec,
    name: str,
    defaults: Mapping[str, Any],
    location: str = "",
    line: int | None = None,
) -> ResolvedJob:
    """A validated jobs-file line as a resolved job (``defaults`` under the line's own fields)."""
    given = spec.given()
    sources = {role: given[role] for role in MEDIA_ROLES if given.get(role)}
    fields = {k: v for k, v in defaults.items() if k not in MEDIA_ROLES}
    fields.update({k: v for k, v in given.items() if k in REQUEST_FIELDS})
    if "audio" in sources:
        fields["audio"] = sources["audio"]  # tells apply_defaults this is an audio job
    sent = apply_defaults(fields)
    sent.pop("audio", None)
    profile = spec.profile
    if profile is None and spec.provider is not None:
        mode = "audio" if "audio" in sources else "text"
        try:
            profile = profile_for(spec.provider, mode)
        except ConfigError as exc:
            error = (("job", str(exc)),)
            return ResolvedJob(spec.name or name, sources, sent, error, location, line)
    return ResolvedJob(spec.name or name, sources, sent, (), location, line, profile)


def _primary_role(profile: Profile) -> str:
    requires = profile.param("job.inputs", "requires", ())
    return "image" if "image" in requires and "video" not in requires else "video"


def resolve(
    inputs: Iterable[PathLike],
    profile: Profile,
    *,
    jobs: PathLike | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    **request: Any,
) -> list[ResolvedJob]:
    """Every job this run will judge, resolved into what would be sent, before probing."""
    allowed = set(MEDIA_ROLES) | set(REQUEST_FIELDS)
    unknown = set(request) - allowed
    if unknown:
        raise ConfigError(f"unknown request field(s): {', '.join(sorted(unknown))}")
    role = _primary_role(profile)
    fields = {k: v for k, v in request.items() if k not in MEDIA_ROLES and v is not None}
    shared_media = {
        r: os.fspath(v) for r, v in request.items() if r in MEDIA_ROLES and v is not None
    }
    inputs = list(inputs)
    if role in shared_media:  # `--image I` on an image profile is one more input
        inputs.append(shared_media.pop(role))
    with_audio = {**fields, "audio": shared_media.get("audio")}
    resolved = collect(inputs, role=role, include=include, exclude=exclude, fields=with_audio)
    resolved = [
        replace(p, sources={**shared_media, **p.sources}, fields=_no_audio(p.fields))
        for p in resolved
    ]
    if jobs is not None:
        from_file = read_jobs(jobs, defaults=fields)
        resolved += [
            replace(p, sources={**shared_media, **p.sources}) if not p.errors else p
            for p in from_file
        ]
    if not resolved:
        raise ConfigError("nothing to check: give paths, URLs or directories, or --jobs FILE")
    return resolved


def _no_audio(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k != "audio"}


plan = resolve  # the name this had before


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
