"""The check and fix steps (``pending`` → ``checked`` or ``fixed``, or ``rejected``/``blocked``).

The inputs are checked against the profile; failing ones are fixed with `preflight.fixing` into
the work folder (never in place), checked again, and handed to the host step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflight.model.errors import APIError, FixError, PreflightError
from preflight.model.findings import Finding, Severity
from preflight.submitting.download import download
from preflight.submitting.ledger import JobRecord, JobStatus, Lease
from preflight.submitting.model import JobResult, Outcome, SubmitRequest, is_url
from preflight.submitting.providers import Media, Provider
from preflight.submitting.steps.host import Hosting

if TYPE_CHECKING:
    from preflight.engines import Session
    from preflight.fixing import FixOptions
    from preflight.report.model import Result

__all__ = ["Preparing", "blocking_findings", "fix_input", "fix_roles", "judge"]


class Preparing(Hosting):
    """Check, fix, then host (the steps that hold no provider slot)."""

    def _prepare(
        self, request: SubmitRequest, provider: Provider, record: JobRecord, lease: Lease
    ) -> dict[str, Media] | JobResult:
        """Check (and fix) the inputs, then give each one what the create needs."""
        job = record.job_id
        sources = _sources(request, record)
        self.emit("check", "start", f"checking against {request.profile_name}", job)
        # on an engine the workers read URLs themselves: a copy here would be out of their reach
        copies = self._local_copies(sources, job) if self.engine is None else {}
        checked = {**sources, **copies}
        result = self._check(request, checked)
        state, message = _check_event(result, request.profile_name)
        self.emit(
            "check",
            state,
            message,
            job,
            ok=result.ok,
            findings=[f.to_dict() for f in result.findings],
        )
        if not result.ok:
            rejected = self._reject(request, lease, job, result)
            if rejected is not None:
                return rejected
            blocked = self._block_unroutable(
                request, provider, lease, job, _local_after_fix(result, sources)
            )
            if blocked is not None:  # the fixed file could not reach the provider
                return blocked
            fixed = self._fix(request, record, lease, checked, result)
            if isinstance(fixed, JobResult):
                return fixed
            sources = fixed
        else:
            self.ledger.update(lease, status=JobStatus.CHECKED)

        return self._media(request, provider, lease, job, sources)

    def _reject(
        self, request: SubmitRequest, lease: Lease, job: str, result: Result
    ) -> JobResult | None:
        """``rejected`` when fixing is off or a failing finding cannot be fixed; None when a fix
        may help. The fixer changes a video or an audio; anything else (a job-wide mismatch,
        text, faces) stops the job before an encode is spent on it."""
        failing, blocking = blocking_findings(result, strict=request.strict)
        if not request.fix or blocking:
            why = blocking or failing
            reason = "; ".join(f"{f.rule}: {f.message}" for f in why)
            if request.fix and blocking:
                reason = f"cannot be fixed: {reason}"
            self.ledger.update(lease, status=JobStatus.REJECTED, error=reason)
            return self._result(
                request,
                self.ledger.get(job),
                Outcome.REJECTED,
                reason=reason,
                findings=tuple(result.findings),
            )
        return None

    def _local_copies(self, sources: Mapping[str, str], job: str) -> dict[str, str]:
        """Local copies of URL inputs the probe cannot read where they are (checked, not sent)."""
        from preflight.model.errors import InputError
        from preflight.probing import probe

        copies: dict[str, str] = {}
        for role, source in sources.items():
            if not is_url(source):
                continue
            try:
                probe(source)
                continue
            except InputError:
                pass
            self.emit("check", "info", f"{role}: fetching a copy of the URL to check it", job)
            target = self.work_dir / job / f"{role}-source{_suffix(source)}"
            try:
                copies[role] = str(download(source, target))
            except APIError as exc:
                self.emit("check", "info", f"{role}: cannot fetch the URL: {exc}", job)
        return copies

    def _check(self, request: SubmitRequest, sources: Mapping[str, str]) -> Result:
        """The one verdict on what this request would send (`judge`); with an engine
        (``--scheduler``) the same work item runs there (`docs/scale.md`)."""
        if self.engine is not None:
            return check_on_engine(
                self.engine, request, sources["video"], _fields(request, sources)
            )
        return judge(request, sources)

    def _fix(
        self,
        request: SubmitRequest,
        record: JobRecord,
        lease: Lease,
        sources: dict[str, str],
        result: Result,
    ) -> dict[str, str] | JobResult:
        job = record.job_id
        failing = fix_roles(result, sources, strict=request.strict)
        workdir = self.work_dir / job
        workdir.mkdir(parents=True, exist_ok=True)
        fixed: dict[str, str] = dict(record.fixed)
        for role in failing:
            source = sources[role]
            self.emit("fix", "start", f"fixing the {role}", job, role=role)
            local = source
            if is_url(source):  # fix a local copy; the fixed file is hosted afterwards
                local = str(download(source, workdir / f"{role}-source{_suffix(source)}"))
            target = workdir / f"{Path(local).stem}.fixed{'.mp4' if role == 'video' else '.m4a'}"
            try:
                if self.engine is not None:
                    made = self._fix_on_engine(request, local, role, job, fetched=local != source)
                else:
                    made = fix_input(
                        local, target, role=role, profile=request.profile_name,
                        options=self.fix_options,
                        show_progress=self.show_progress,
                        config=request.config,
                        face=request.face,
                    )  # fmt: skip
            except PreflightError as exc:
                reason = f"the {role} cannot be fixed: {exc}"
                self.ledger.update(lease, status=JobStatus.REJECTED, error=reason)
                self.emit("fix", "fail", reason, job, role=role)
                return self._result(
                    request,
                    self.ledger.get(job),
                    Outcome.REJECTED,
                    reason=reason,
                    findings=tuple(result.findings),
                )
            fixed[role] = str(made)
            sources[role] = str(made)
            self.ledger.update(lease, status=JobStatus.FIXED, fixed=fixed)
            self.emit("fix", "done", f"fixed the {role}: {made}", job, role=role, path=str(made))
        again = self._check(request, sources)
        if not again.ok:
            reason = "still fails after fixing: " + "; ".join(
                f"{f.rule}: {f.message}" for f in _failing(again.findings, strict=request.strict)
            )
            self.ledger.update(lease, status=JobStatus.REJECTED, error=reason)
            return self._result(
                request,
                self.ledger.get(job),
                Outcome.REJECTED,
                reason=reason,
                findings=tuple(again.findings),
            )
        return sources

    def _fix_on_engine(
        self, request: SubmitRequest, source: str, role: str, job: str, *, fetched: bool
    ) -> Path:
        """Fix ``source`` as a work item on the engine, into this job's folder under the fix
        folder (shared, or ``s3://``); the coordinator then holds the fixed file locally, so
        hosting, the re-check's inputs and the ledger see what a local fix gives them."""
        import dataclasses

        from preflight.checking.config import resolve_config
        from preflight.engines import fix_batch, s3
        from preflight.fixing import FixOptions

        assert self.engine is not None
        root = self.fix_dir or str(self.work_dir)
        folder = s3.join(root, job) if s3.is_s3(root) else os.path.join(root, job)
        source = _reachable(_absolute(source), folder, fetched and self.fix_dir is not None)
        result = fix_batch(
            [source],
            profile=request.profile_name,
            options=dataclasses.replace(self.fix_options or FixOptions(), face=request.face),
            config=resolve_config(request.config),
            out_dir=folder,
            engine=self.engine,
            resume=True,  # a re-run of an interrupted batch finds the finished fix
        )[0]
        if result.status not in ("fixed", "copied") or not result.output:
            raise FixError(result.message or f"the {role} cannot be fixed ({result.status})")
        if not s3.is_s3(result.output):
            return Path(result.output)
        local = self.work_dir / job / os.path.basename(s3.parse(result.output)[1])
        local.parent.mkdir(parents=True, exist_ok=True)
        s3.download(result.output, str(local))  # the coordinator hosts and hashes a local file
        return local


def check_on_engine(
    engine: Session, request: SubmitRequest, video: str, fields: Mapping[str, Any]
) -> Result:
    """`Preparing._check` as a work item on ``engine``: the same planning, the same verdict."""
    from preflight.checking.config import resolve_config
    from preflight.engines import check_batch

    fields = {k: _absolute(v) if k == "audio" and v else v for k, v in fields.items()}
    report = check_batch(
        [_absolute(video)],
        request.profile_name,
        engine=engine,
        config=resolve_config(request.config),
        strict=request.strict,
        face=request.face,
        **fields,
    )
    return report.results[0]


def _absolute(source: str) -> str:
    """A local path as an absolute one (a worker's current folder is not ours); else as is."""
    from preflight.engines import s3

    if is_url(source) or s3.is_s3(source):
        return source
    return os.path.abspath(source)


def _reachable(source: str, folder: str, fetched: bool) -> str:
    """``source`` where every worker can read it. An input as given stays as it is (a path on
    the shared filesystem, as `fix --scheduler` asks, or an ``s3://`` URI); the coordinator's
    own download of a URL input is put into the job's fix folder first."""
    import shutil

    from preflight.engines import s3

    if not fetched:
        return source
    name = f"source-{os.path.basename(source)}"
    if s3.is_s3(folder):
        target = s3.join(folder, name)
        s3.upload(source, target)
        return target
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, name)
    shutil.copyfile(source, target)
    return target


def judge(request: SubmitRequest, sources: Mapping[str, str]) -> Result:
    """The one verdict (`preflight.checking`) on what this request would send: the same
    resolution, defaults, config discovery, face rules and strictness as `preflight check`."""
    from preflight.checking.check import check

    report = check(
        [sources["video"]],
        profile=request.profile_name,
        config=request.config,
        strict=request.strict,
        face=request.face,
        **_fields(request, sources),
    )
    return report.results[0]


def _fields(request: SubmitRequest, sources: Mapping[str, str]) -> dict[str, Any]:
    """The job fields besides the video that the verdict reads."""
    fields: dict[str, Any] = {"audio": sources.get("audio")}
    if request.mode == "text":
        fields.update(
            text=request.text,
            voice_id=request.voice_id,
            voice_language=request.voice_language,
            voice_speed=request.voice_speed,
        )
    return fields


def blocking_findings(result: Result, *, strict: bool) -> tuple[list[Finding], list[Finding]]:
    """The findings that stop the job, and those among them no fix can help: the fixer changes
    a video or an audio; anything else (a job-wide mismatch, text, faces) is final."""
    failing = _failing(result.findings, strict=strict)
    return failing, [f for f in failing if not f.fixable or _family(f) not in ("video", "audio")]


def fix_roles(result: Result, sources: Mapping[str, str], *, strict: bool) -> list[str]:
    """The inputs a fix would replace (the video when no finding names one)."""
    failing = {_family(f) for f in _failing(result.findings, strict=strict)}
    return sorted(failing & set(sources)) or ["video"]


def fix_input(
    source: str,
    target: Path,
    *,
    role: str,
    profile: str,
    options: FixOptions | None = None,
    show_progress: bool = False,
    config: str | None = None,
    face: bool = True,
) -> Path:
    """Make ``source`` pass ``profile`` as ``target`` with `preflight.fix` (raises FixError),
    verified by the same verdict as the check, under the same config."""
    import dataclasses

    from preflight.checking.config import resolve_config
    from preflight.fixing import FixOptions, fix

    result = fix(
        source,
        profile=profile,
        output=target,
        options=dataclasses.replace(options or FixOptions(), face=face),
        show_progress=show_progress,
        config=resolve_config(config),
    )
    if result.status in ("fixed", "copied") and result.output:
        return Path(result.output)
    raise FixError(result.message or f"the {role} cannot be fixed ({result.status})")


def _sources(request: SubmitRequest, record: JobRecord) -> dict[str, str]:
    """The inputs to check: as given, or the files an earlier run of this job fixed."""
    sources = {r: s for r in ("video", "audio") if (s := getattr(request, r)) is not None}
    for role, path in record.fixed.items():  # fixed by an earlier run: reuse
        if os.path.isfile(path):
            sources[role] = path
    return sources


def _local_after_fix(result: Result, sources: Mapping[str, str]) -> dict[str, str]:
    """The inputs that will be local files once fixed: those already local, and those a fix
    replaces (the roles `_fix` picks), so a missing route is found before the encode."""
    failing = {_family(f) for f in result.findings if f.severity is Severity.ERROR}
    roles = sorted(failing & set(sources)) or ["video"]
    local = {role: source for role, source in sources.items() if not is_url(source)}
    return {**local, **{role: sources[role] for role in roles}}


def _count(findings: tuple[Finding, ...]) -> str:
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = sum(f.severity is Severity.WARNING for f in findings)
    text = f"{errors} error{'s' if errors != 1 else ''}"
    if warnings:
        text += f", {warnings} warning{'s' if warnings != 1 else ''}"
    return text


def _family(finding: Finding) -> str:
    return finding.rule.split(".", 1)[0]


def _failing(findings: tuple[Finding, ...], *, strict: bool) -> list[Finding]:
    """The findings that stop a job: errors, and with ``--strict`` warnings too (as in check)."""
    worst = Severity.WARNING if strict else Severity.ERROR
    return [f for f in findings if f.severity.rank >= worst.rank]


def _check_event(result: Result, profile: str) -> tuple[str, str]:
    """The check step's state and message, as ``check`` would put it: warnings are shown even
    when the job passes (``passes, 1 warning``) and block only with ``--strict``."""
    warnings = sum(f.severity is Severity.WARNING for f in result.findings)
    if result.ok:
        note = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
        return "done", f"passes{note}"
    return "fail", f"{_count(result.findings)} against {profile}"


def _suffix(url: str) -> str:
    from urllib.parse import urlsplit

    return Path(urlsplit(url).path).suffix or ".bin"
