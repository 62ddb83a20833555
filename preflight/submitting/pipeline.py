"""One job from input to downloaded result: check -> fix -> host -> create -> wait -> download.

Every step is written to the ledger as it completes, so a run that dies anywhere is resumed by
running the same command again (see `preflight.submitting.ledger`). The create is the only paid
step: its row is written as ``creating`` first, and a row found in that state is reconciled with
the provider (is there a task with our external id, or with our inputs?) before anything is
created again.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflight.model.errors import (
    APIConnectionError,
    APIError,
    ConcurrencyLimitError,
    ConfigError,
    ContentPolicyError,
    FixError,
    InvalidRequestError,
    LedgerError,
    PreflightError,
    RateLimitError,
    ServerError,
    TaskFailedError,
)
from preflight.model.findings import Finding, Severity
from preflight.submitting._crashpoints import crash_point
from preflight.submitting.download import download
from preflight.submitting.gate import MAX_CREATE_ATTEMPTS, SlotGate
from preflight.submitting.ledger import JobRecord, JobStatus, Lease, Ledger, job_key
from preflight.submitting.model import Event, JobResult, Outcome, SubmitRequest, is_url
from preflight.submitting.providers import Media, Provider

if TYPE_CHECKING:
    from preflight.client.models import Task
    from preflight.fixing import FixOptions
    from preflight.report.model import Result
    from preflight.submitting.hosting import Host
    from preflight.submitting.hosting.s3 import S3Host

__all__ = ["EventSink", "Submitter"]

EventSink = Callable[[Event], None]
INLINE = "inline:"
HEAD_TIMEOUT = 10.0


def _quiet(event: Event) -> None:
    del event


class Submitter:
    """Runs jobs against one ledger. Thread-safe: a batch shares one Submitter.

    ``providers`` gives the `Provider` for a name (a mapping, or a factory called once per name).
    ``fallback_host`` gives local media a URL when no ``upload_to`` is set (the demo's sandbox).
    ``gate`` bounds open tasks (batch); ``work_dir`` holds fixed files (default beside the ledger);
    ``fix_options`` are handed to `preflight.fixing.fix`.
    """

    def __init__(
        self,
        ledger: Ledger,
        providers: Mapping[str, Provider] | Callable[[str], Provider],
        *,
        on_event: EventSink | None = None,
        gate: SlotGate | None = None,
        fallback_host: Host | None = None,
        work_dir: str | os.PathLike[str] | None = None,
        fix_options: FixOptions | None = None,
    ) -> None:
        self.ledger = ledger
        self._providers = providers
        self._cache: dict[str, Provider] = {}
        self._hosts: dict[str, S3Host] = {}
        self._lock = threading.Lock()
        self.on_event = on_event or _quiet
        self.gate = gate or SlotGate(None)
        self.fallback_host = fallback_host
        self.work_dir = Path(work_dir) if work_dir else ledger.path.parent / "work"
        self.fix_options = fix_options
        self.show_progress = False  # FFmpeg's own progress bar while fixing (on a terminal)

    # --- plumbing ---------------------------------------------------------------------------

    def with_gate(self, gate: SlotGate) -> Submitter:
        """The same submitter (ledger, providers, events) with another concurrency gate."""
        clone = copy.copy(self)
        clone.gate = gate
        return clone

    def close(self) -> None:
        """Close the clients this submitter made (not those it was given)."""
        with self._lock:
            for provider in self._cache.values():
                provider.close()
            self._cache.clear()
            for host in self._hosts.values():
                host.close()
            self._hosts.clear()

    def __enter__(self) -> Submitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def provider(self, name: str) -> Provider:
        if isinstance(self._providers, Mapping):
            try:
                return self._providers[name]
            except KeyError:
                raise ConfigError(f"no client configured for provider {name!r}") from None
        with self._lock:
            if name not in self._cache:
                self._cache[name] = self._providers(name)
            return self._cache[name]

    def s3_host(self, url: str) -> S3Host:
        """One S3 host (one boto3 client) per ``--upload-to`` for every job of this submitter."""
        from preflight.submitting.hosting.s3 import S3Host

        with self._lock:
            if url not in self._hosts:
                self._hosts[url] = S3Host.from_url(url)
            return self._hosts[url]

    def emit(self, step: str, state: str, message: str, job: str | None, **data: Any) -> None:
        """Report one step to ``on_event``."""
        self.on_event(Event(step, state, message, job, data))

    # --- the run ----------------------------------------------------------------------------

    def run(self, request: SubmitRequest) -> JobResult:
        """Run (or resume) one job to its end; see the module docstring."""
        request = request.validate()
        for role in ("video", "audio"):
            source = getattr(request, role)
            if source is not None and not is_url(source) and not os.path.isfile(source):
                raise ConfigError(f"no such file: {source}")
        provider = self.provider(request.provider)
        self._usage(request, provider)
        out = request.default_out().resolve()
        inputs = self._fingerprints(request)
        endpoint = provider.endpoint(request.mode)
        key = job_key(provider.name, endpoint, request.params(), inputs)
        record, lease = self.ledger.open_job(
            key,
            name=request.display_name,
            provider=provider.name,
            endpoint=endpoint,
            params=request.params(),
            inputs=inputs,
            options=request.options(),
            out_path=str(out),
            external_task_id=request.external_task_id,
            new=request.new,
        )
        resumed = record.status is not JobStatus.PENDING
        if lease is None:
            self.emit(
                "job",
                "info",
                f"job {record.job_id} is being run by process {record.lease_pid} on "
                f"{record.lease_host}; waiting for it",
                record.job_id,
            )
            try:
                record, lease = self.ledger.wait_claim(record.job_id, timeout=request.timeout)
            except LedgerError as exc:
                return self._result(
                    request, self.ledger.get(record.job_id), Outcome.TIMED_OUT, reason=str(exc)
                )
            resumed = True
            if lease is None:
                return self._finished(request, record, out)
        try:
            return self._drive(request, provider, record, lease, out, resumed)
        finally:
            lease.release()

    def resume(self, job_id: str, *, wait: bool = True, timeout: float | None = None) -> JobResult:
        """Continue a job from the ledger by its id, with the options it was started with."""
        record = self.ledger.get(job_id)
        request = request_from_record(record, wait=wait, timeout=timeout)
        return self.run(request)

    def _usage(self, request: SubmitRequest, provider: Provider) -> None:
        if request.upload_to:
            from preflight.submitting.hosting.s3 import parse_s3_url

            parse_s3_url(request.upload_to)
        if (
            not is_url(request.video)
            and not provider.inline("video")
            and provider.host() is None
            and not request.upload_to
            and self.fallback_host is None
        ):
            raise ConfigError(
                f"{provider.name} fetches the video from a URL and has no upload endpoint: pass "
                "--upload-to s3://BUCKET/PREFIX to host the local file, or give the video as a URL"
            )

    def _fingerprints(self, request: SubmitRequest) -> dict[str, dict[str, Any]]:
        inputs: dict[str, dict[str, Any]] = {}
        for role in ("video", "audio"):
            source = getattr(request, role)
            if source is None:
                continue
            if is_url(source):
                inputs[role] = _url_fingerprint(source)
            else:
                inputs[role] = {"sha256": self.ledger.file_sha256(source)}
        return inputs

    def _finished(self, request: SubmitRequest, record: JobRecord, out: Path) -> JobResult:
        """The result of a job another process finished."""
        if record.status is JobStatus.DONE and record.result_path:
            output = _deliver(Path(record.result_path), out)
            self.emit("done", "done", f"result at {output}", record.job_id, output=str(output))
            return self._result(request, record, Outcome.DONE, output=output, resumed=True)
        outcome = Outcome.REJECTED if record.status is JobStatus.REJECTED else Outcome.FAILED
        return self._result(request, record, outcome, reason=record.error, resumed=True)

    def _result(
        self, request: SubmitRequest, record: JobRecord, outcome: Outcome, **kw: Any
    ) -> JobResult:
        return JobResult(
            name=request.display_name,
            outcome=outcome,
            job_id=record.job_id,
            task_id=kw.pop("task_id", record.task_id),
            provider=record.provider,
            result_url=kw.pop("result_url", record.result_url),
            **kw,
        )

    def _drive(
        self,
        request: SubmitRequest,
        provider: Provider,
        record: JobRecord,
        lease: Lease,
        out: Path,
        resumed: bool,
    ) -> JobResult:
        job = record.job_id
        self.emit(
            "job",
            "start",
            f"{'resuming' if resumed else 'starting'} job {job} ({record.status.value})",
            job,
            resumed=resumed,
            status=record.status.value,
            provider=provider.name,
        )
        if record.out_path != str(out):
            record = self.ledger.update(lease, out_path=str(out))
        if record.status is JobStatus.DONE:
            if record.result_path and os.path.isfile(record.result_path):
                output = _deliver(Path(record.result_path), out)
                self.emit(
                    "done", "done", f"already done: result at {output}", job, output=str(output)
                )
                return self._result(request, record, Outcome.DONE, output=output, resumed=True)
            if record.result_url:  # the file went away: fetch it again
                record = self.ledger.update(lease, status=JobStatus.SUCCEEDED)
        if record.status is JobStatus.FAILED:
            reason = f"{record.error} (an earlier run; --new submits the job again)"
            self.emit("done", "fail", f"this job failed earlier: {reason}", job)
            return self._result(request, record, Outcome.FAILED, reason=reason, resumed=True)

        if record.status is JobStatus.SUCCEEDED and record.result_url:
            return self._download(request, record, lease, out, resumed)

        task_id = record.task_id
        if task_id is None and record.status is JobStatus.CREATING:
            found = self._reconcile(request, provider, record)
            if found is not None:
                task_id = found.id
                record = self.ledger.update(lease, status=JobStatus.SUBMITTED, task_id=task_id)
        prepared: dict[str, Media] = {}
        if task_id is None:
            checked = self._prepare(request, provider, record, lease)  # holds no provider slot
            if isinstance(checked, JobResult):
                return checked
            prepared = checked
        self.gate.acquire()  # a task holds a provider slot from its create until it ends
        try:
            if task_id is None:
                created = self._create(request, provider, record, lease, prepared)
                if isinstance(created, JobResult):
                    return created
                record = created
                task_id = record.task_id
            assert task_id is not None
            if not request.wait:
                self.emit(
                    "done", "done", f"task {task_id} created; not waiting", job, task_id=task_id
                )
                return self._result(request, record, Outcome.SUBMITTED, resumed=resumed)
            waited = self._wait(request, provider, record, lease, task_id)
        finally:
            self.gate.release()
        if isinstance(waited, JobResult):
            return waited
        return self._download(request, waited, lease, out, resumed)

    # --- steps ------------------------------------------------------------------------------

    def _prepare(
        self, request: SubmitRequest, provider: Provider, record: JobRecord, lease: Lease
    ) -> dict[str, Media] | JobResult:
        """Check (and fix) the inputs, then give each one what the create needs."""
        job = record.job_id
        sources = {r: s for r in ("video", "audio") if (s := getattr(request, r)) is not None}
        for role, path in record.fixed.items():  # fixed by an earlier run: reuse
            if os.path.isfile(path):
                sources[role] = path
        self.emit("check", "start", f"checking against {request.profile_name}", job)
        checked = {**sources, **self._local_copies(sources, job)}
        result = self._check(request, checked)
        self.emit(
            "check",
            "done" if result.ok else "fail",
            "passes" if result.ok else f"{_count(result.findings)} against {request.profile_name}",
            job,
            ok=result.ok,
            findings=[f.to_dict() for f in result.findings],
        )
        if not result.ok:
            errors = [f for f in result.findings if f.severity is Severity.ERROR]
            blocking = [f for f in errors if not f.fixable]
            if not request.fix or blocking:
                why = blocking or errors
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
            fixed = self._fix(request, record, lease, checked, result)
            if isinstance(fixed, JobResult):
                return fixed
            sources = fixed
        else:
            self.ledger.update(lease, status=JobStatus.CHECKED)

        media: dict[str, Media] = {}
        for role, source in sources.items():
            if is_url(source):
                media[role] = Media(url=source)
            elif provider.inline(role) and not request.upload_to:
                media[role] = Media(file=Path(source).resolve())
                self.emit("host", "skip", f"{role}: sent inline (base64)", job, role=role)
            else:
                media[role] = Media(url=self._host(request, provider, role, source, job))
        self.ledger.update(lease, status=JobStatus.HOSTED, urls=_encode(media))
        return media

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
        from preflight.checking.check import check

        fields: dict[str, Any] = {"audio": sources.get("audio")}
        if request.mode == "text":
            fields.update(
                text=request.text,
                voice_id=request.voice_id,
                voice_language=request.voice_language,
                voice_speed=request.voice_speed,
            )
        report = check(
            [sources["video"]], profile=request.profile_name, face=request.face, **fields
        )
        return report.results[0]

    def _fix(
        self,
        request: SubmitRequest,
        record: JobRecord,
        lease: Lease,
        sources: dict[str, str],
        result: Result,
    ) -> dict[str, str] | JobResult:
        job = record.job_id
        failing = sorted(
            {f.rule.split(".", 1)[0] for f in result.findings if f.severity is Severity.ERROR}
            & set(sources)
        ) or ["video"]
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
                made = fix_input(
                    local, target, role=role, profile=request.profile_name,
                    options=self.fix_options,
                    show_progress=self.show_progress,
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
                f"{f.rule}: {f.message}" for f in again.findings if f.severity is Severity.ERROR
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

    def _host(
        self, request: SubmitRequest, provider: Provider, role: str, source: str, job: str
    ) -> str:
        from preflight.submitting.hosting import host_file

        host: Host | None
        if request.upload_to:
            host = self.s3_host(request.upload_to)
        else:
            host = provider.host() or self.fallback_host
        if host is None:
            raise ConfigError(
                f"the {role} is a local file and {provider.name} needs a URL: pass "
                "--upload-to s3://BUCKET/PREFIX"
            )
        self.emit("host", "start", f"uploading the {role}", job, role=role)
        hosted = host_file(host, source, self.ledger)
        self.emit(
            "host",
            "done",
            f"{role}: {'already uploaded' if hosted.cached else 'uploaded'}",
            job,
            role=role,
            cached=hosted.cached,
        )
        return hosted.url

    def _create(
        self,
        request: SubmitRequest,
        provider: Provider,
        record: JobRecord,
        lease: Lease,
        media: Mapping[str, Media],
    ) -> JobRecord | JobResult:
        job = record.job_id
        for attempt in range(MAX_CREATE_ATTEMPTS):
            if lease.lost:
                raise PreflightError(f"job {job} was taken over by another process")
            record = self.ledger.update(lease, status=JobStatus.CREATING)
            self.emit(
                "create",
                "start",
                f"creating the {provider.name} task",
                job,
                external_task_id=record.external_task_id,
            )
            try:
                task = provider.create(request, media, record.external_task_id)
            except (ConcurrencyLimitError, RateLimitError) as exc:
                # a 429 with 1302/1303 started nothing: back to hosted, wait, try again
                self.ledger.update(lease, status=JobStatus.HOSTED)
                self.gate.refused()
                self.emit(
                    "create",
                    "info",
                    f"provider busy ({exc}); backing off",
                    job,
                    attempt=attempt + 1,
                )
                self.gate.release()
                try:
                    self.gate.backoff(attempt)
                finally:
                    self.gate.acquire()
                continue
            except (InvalidRequestError, ContentPolicyError) as exc:
                reason = str(exc)
                self.ledger.update(lease, status=JobStatus.FAILED, error=reason)
                self.emit("create", "fail", f"the provider refused the job: {reason}", job)
                return self._result(request, self.ledger.get(job), Outcome.FAILED, reason=reason)
            except (APIConnectionError, ServerError) as exc:
                # the create may have started a task: stay `creating`, reconcile on the next run
                raise APIError(
                    f"{exc}; the job stays recorded as creating: run the same command again to "
                    "find the task (nothing is created twice)"
                ) from exc
            except APIError:
                if record.task_id is None:
                    self.ledger.update(lease, status=JobStatus.HOSTED)
                raise
            crash_point("after-create")
            self.gate.created()
            record = self.ledger.update(lease, status=JobStatus.SUBMITTED, task_id=task.id)
            self.emit("create", "done", f"task {task.id} created", job, task_id=task.id)
            return record
        reason = f"the provider stayed at its concurrency limit for {MAX_CREATE_ATTEMPTS} tries"
        raise APIError(reason)

    def _reconcile(
        self, request: SubmitRequest, provider: Provider, record: JobRecord
    ) -> Task | None:
        job = record.job_id
        if not provider.can_find:
            raise APIError(
                f"job {job}: an earlier run stopped while creating a {provider.name} task, and "
                f"{provider.name} offers no way to look it up, so it may exist already. Check "
                "your tasks with the provider; to submit anyway, run again with --new"
            )
        media = _decode(record.urls)
        self.emit(
            "create",
            "info",
            "an earlier run stopped around the create call: looking for its task",
            job,
        )
        if "video" not in media:
            return None
        found = provider.find(request, media, record.external_task_id, record.updated_at)
        if found is not None:
            self.emit(
                "create",
                "done",
                f"found task {found.id} from the earlier run",
                job,
                task_id=found.id,
                reconciled=True,
            )
        else:
            self.emit("create", "info", "no task was created by the earlier run", job)
        return found

    def _wait(
        self,
        request: SubmitRequest,
        provider: Provider,
        record: JobRecord,
        lease: Lease,
        task_id: str,
    ) -> JobRecord | JobResult:
        job = record.job_id
        started = time.monotonic()
        self.emit("wait", "start", f"waiting for task {task_id}", job, task_id=task_id)
        last = [record.status]

        def on_update(task: Task) -> None:
            status = task.status.value
            mapped = {
                "submitted": JobStatus.SUBMITTED,
                "processing": JobStatus.PROCESSING,
            }.get(status)
            if mapped is not None and mapped is not last[0]:
                self.ledger.update(lease, status=mapped)
                last[0] = mapped
            self.emit(
                "wait",
                "progress",
                f"task {task_id}: {status}",
                job,
                task_id=task_id,
                status=status,
                elapsed=round(time.monotonic() - started, 1),
            )

        try:
            task = provider.wait(task_id, timeout=request.timeout, on_update=on_update)
        except TaskFailedError as exc:
            reason = exc.message
            self.ledger.update(lease, status=JobStatus.FAILED, error=reason)
            self.emit("wait", "fail", f"task {task_id} failed: {reason}", job, task_id=task_id)
            return self._result(request, self.ledger.get(job), Outcome.FAILED, reason=reason)
        except (APIConnectionError, ServerError, RateLimitError) as exc:
            reason = f"gave up waiting: {exc}"
            self.emit(
                "wait",
                "fail",
                f"{reason}; `preflight resume {job}` continues",
                job,
                task_id=task_id,
            )
            return self._result(request, self.ledger.get(job), Outcome.TIMED_OUT, reason=reason)
        url = task.video_url
        if not url:
            reason = f"task {task_id} succeeded without a result video"
            self.ledger.update(lease, status=JobStatus.FAILED, error=reason)
            return self._result(request, self.ledger.get(job), Outcome.FAILED, reason=reason)
        self.emit("wait", "done", f"task {task_id} succeeded", job, task_id=task_id)
        return self.ledger.update(lease, status=JobStatus.SUCCEEDED, result_url=url)

    def _download(
        self, request: SubmitRequest, record: JobRecord, lease: Lease, out: Path, resumed: bool
    ) -> JobResult:
        job = record.job_id
        assert record.result_url is not None
        self.emit("download", "start", f"downloading to {out}", job, path=str(out))
        shown = [-1]

        def progress(done: int, total: int | None) -> None:
            step = int(done * 10 / total) if total else done // (1 << 20)  # 10 % (or 1 MB) steps
            if step != shown[0]:
                shown[0] = step
                size = (
                    f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
                )
                self.emit("download", "progress", f"downloading: {size}", job, bytes=done,
                          total=total)  # fmt: skip

        download(record.result_url, out, on_progress=progress)
        self.emit(
            "download",
            "done",
            f"downloaded {out.stat().st_size} bytes",
            job,
            path=str(out),
            bytes=out.stat().st_size,
        )
        record = self.ledger.update(lease, status=JobStatus.DONE, result_path=str(out))
        self.emit("done", "done", f"result at {out}", job, output=str(out), task_id=record.task_id)
        return self._result(request, record, Outcome.DONE, output=out, resumed=resumed)


# --- helpers --------------------------------------------------------------------------------


def fix_input(
    source: str,
    target: Path,
    *,
    role: str,
    profile: str,
    options: FixOptions | None = None,
    show_progress: bool = False,
) -> Path:
    """Make ``source`` pass ``profile`` as ``target`` with `preflight.fix` (raises FixError)."""
    from preflight.fixing import fix

    result = fix(
        source, profile=profile, output=target, options=options, show_progress=show_progress
    )
    if result.status in ("fixed", "copied") and result.output:
        return Path(result.output)
    raise FixError(result.message or f"the {role} cannot be fixed ({result.status})")


def _count(findings: tuple[Finding, ...]) -> str:
    errors = sum(f.severity is Severity.ERROR for f in findings)
    return f"{errors} error{'s' if errors != 1 else ''}"


def _suffix(url: str) -> str:
    from urllib.parse import urlsplit

    return Path(urlsplit(url).path).suffix or ".bin"


def _encode(media: Mapping[str, Media]) -> dict[str, str]:
    return {r: m.url if m.url is not None else f"{INLINE}{m.file}" for r, m in media.items()}


def _decode(urls: Mapping[str, str]) -> dict[str, Media]:
    return {
        r: Media(file=Path(v[len(INLINE) :])) if v.startswith(INLINE) else Media(url=v)
        for r, v in urls.items()
    }


def _url_fingerprint(url: str) -> dict[str, Any]:
    """The URL, plus its ETag and size when a HEAD request tells them."""
    import httpx

    found: dict[str, Any] = {"url": url}
    with contextlib.suppress(httpx.HTTPError):
        response = httpx.head(url, timeout=HEAD_TIMEOUT, follow_redirects=True)
        if response.status_code == 200:
            if response.headers.get("etag"):
                found["etag"] = response.headers["etag"]
            length = response.headers.get("content-length", "")
            if length.isdigit():
                found["size"] = int(length)
    return found


def _deliver(result: Path, out: Path) -> Path:
    """The finished file at ``out`` (copied there, whole, when the job wrote it elsewhere)."""
    if result.resolve() == out.resolve():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    try:
        shutil.copyfile(result, tmp)
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return out


def request_from_record(
    record: JobRecord, *, wait: bool = True, timeout: float | None = None
) -> SubmitRequest:
    """The request a ledger row was started with (for `preflight resume`)."""
    options = record.options
    params = record.params
    if "video" not in options:
        raise ConfigError(
            f"job {record.job_id} is the {record.endpoint} step of `preflight animate`: run that "
            "command again to continue it"
        )
    return SubmitRequest(
        video=str(options["video"]),
        provider=record.provider,
        audio=options.get("audio"),
        text=params.get("text"),
        voice_id=params.get("voice_id"),
        voice_language=params.get("voice_language"),
        voice_speed=params.get("voice_speed"),
        profile=options.get("profile"),
        fix=bool(options.get("fix", True)),
        face=bool(options.get("face", True)),
        callback_url=params.get("callback_url"),
        external_task_id=params.get("external_task_id"),
        upload_to=options.get("upload_to"),
        out=record.out_path,
        wait=wait,
        timeout=timeout,
        name=options.get("name"),
    )
