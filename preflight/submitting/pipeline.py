"""One job from input to downloaded result: check -> fix -> host -> create -> wait -> download.

Every step is written to the ledger as it completes, so a run that dies anywhere is resumed by
running the same command again (see `preflight.submitting.ledger`). The create is the only paid
step: its row is written as ``creating`` first, and a row found in that state is reconciled with
the provider (is there a task with our external id, or with our inputs?) before anything is
created again.

The steps live in `preflight.submitting.steps`, one module per stretch of the state table
(`preflight.submitting.states`); `Submitter` owns the plumbing (providers, gate, ledger) and
drives a job from the state its row is in.
"""

from __future__ import annotations

import contextlib
import copy
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflight.model.errors import ConfigError, InputError, LedgerError, ProviderMismatchError
from preflight.model.speech import SPEECH_FIELDS
from preflight.submitting.caches import HashCache
from preflight.submitting.gate import SlotGate
from preflight.submitting.ledger import JobRecord, JobStatus, Lease, Ledger, job_key
from preflight.submitting.model import Event, JobResult, Outcome, SubmitRequest, is_url
from preflight.submitting.providers import Media, Provider
from preflight.submitting.steps.create import Creating
from preflight.submitting.steps.face import Choosing
from preflight.submitting.steps.finish import Finishing, deliver
from preflight.submitting.steps.prepare import Preparing, fix_input

if TYPE_CHECKING:
    from preflight.engines import Session
    from preflight.fixing import FixOptions
    from preflight.model.pricing import Estimate
    from preflight.submitting.hosting import Host
    from preflight.submitting.hosting.s3 import S3Host
    from preflight.submitting.listen import Listener

__all__ = ["EventSink", "Submitter", "fix_input", "request_from_record"]

EventSink = Callable[[Event], None]
HEAD_TIMEOUT = 10.0


def _quiet(event: Event) -> None:
    del event


class Submitter(Preparing, Choosing, Creating, Finishing):
    """Runs jobs against one ledger. Thread-safe: a batch shares one Submitter.

    ``providers`` gives the `Provider` for a name (a mapping, or a factory called once per name).
    ``fallback_host`` gives local media a URL when no ``upload_to`` is set (the demo's sandbox).
    ``gate`` bounds open tasks (batch); ``work_dir`` holds fixed files (default beside the ledger);
    ``fix_options`` are handed to `preflight.fixing.fix`; ``listener`` (`submit --listen`) is
    the callback receiver whose URL the create sends and whose callbacks wake the wait.
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
        listener: Listener | None = None,
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
        self.listener = listener
        self.engine: Session | None = None  # check and fix on a cluster (`docs/scale.md`)
        self.fix_dir: str | None = None  # where those fixes land: a shared folder or s3://

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

    # --- the run ----------------------------------------------------------------------------

    def run(self, request: SubmitRequest) -> JobResult:
        """Run (or resume) one job to its end; see the module docstring."""
        request = request.validate()
        for role in ("video", "audio"):
            source = getattr(request, role)
            if source is not None and not is_url(source) and not os.path.isfile(source):
                raise InputError(f"no such file: {source}", source=source)  # exit 1, not usage
        provider = self.provider(request.provider)
        if request.advanced is not None:  # identify-face, then one face (same states, ledger)
            from preflight.submitting.advanced import advanced_provider

            provider = advanced_provider(provider)
        _profile_fits(request)
        if request.upload_to:
            from preflight.submitting.hosting.s3 import parse_s3_url

            parse_s3_url(request.upload_to)  # a malformed --upload-to is a usage error
        estimate, refused = self._cost(request)
        if refused is not None:
            return refused
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
            estimate=estimate.to_dict(),
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
            if record.estimate is None:  # a row from before estimates were recorded
                record = self.ledger.update(lease, estimate=estimate.to_dict())
            return self._drive(request, provider, record, lease, out, resumed)
        finally:
            lease.release()

    def _cost(self, request: SubmitRequest) -> tuple[Estimate, JobResult | None]:
        """The job's estimate, and the refusal when ``max_cost`` rules it out (before any row)."""
        from preflight.submitting.cost import estimate_request, over_budget

        estimate = estimate_request(request)
        self.emit("cost", "info", f"estimate: {estimate.text()}", None, **estimate.to_dict())
        if request.max_cost is None:
            return estimate, None
        reason = over_budget([estimate], request.max_cost)
        if reason is None:
            return estimate, None
        self.emit("cost", "fail", f"refused: {reason}", None)
        result = JobResult(
            request.display_name, Outcome.REFUSED, reason=reason, provider=request.provider
        )
        return estimate, result

    def resume(
        self,
        job_id: str,
        *,
        wait: bool = True,
        timeout: float | None = None,
        upload_to: str | None = None,
    ) -> JobResult:
        """Continue a job from the ledger by its id, with the options it was started with
        (``upload_to`` replaces the recorded one: the action a blocked job may need)."""
        record = self.ledger.get(job_id)
        request = request_from_record(record, wait=wait, timeout=timeout)
        if upload_to is not None:
            request = _replace(request, upload_to=upload_to)
        return self.run(request)

    def _fingerprints(self, request: SubmitRequest) -> dict[str, dict[str, Any]]:
        inputs: dict[str, dict[str, Any]] = {}
        for role in ("video", "audio"):
            source = getattr(request, role)
            if source is None:
                continue
            if is_url(source):
                inputs[role] = _url_fingerprint(source)
            else:
                inputs[role] = {"sha256": HashCache(self.ledger).sha256(source)}
        return inputs

    def _drive(
        self,
        request: SubmitRequest,
        provider: Provider,
        record: JobRecord,
        lease: Lease,
        out: Path,
        resumed: bool,
    ) -> JobResult:
        """Take the job from the state its row is in to its end, step by step."""
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
        options = {**record.options, **request.options()}  # keeps what a step added (the face)
        if dict(record.options) != options:  # `resume` reruns with the latest
            record = self.ledger.update(lease, options=options)
        settled = self._settled(request, record, lease, out)
        if isinstance(settled, JobResult):
            return settled
        record = settled
        if record.status is JobStatus.SUCCEEDED and record.result_url:
            return self._download(request, record, lease, out, resumed)
        task_id = record.task_id
        if task_id is None and record.status is JobStatus.CREATING:
            found = self._reconcile(request, provider, record)
            if found is not None:
                record = self.ledger.update(lease, status=JobStatus.SUBMITTED, task_id=found.id)
        prepared: dict[str, Media] = {}
        if record.task_id is None:
            checked = self._prepare(request, provider, record, lease)  # holds no provider slot
            if isinstance(checked, JobResult):
                return checked
            prepared = checked
            if request.advanced is not None:
                chosen = self._choose_face(request, provider, record, lease, prepared)
                if isinstance(chosen, JobResult):
                    return chosen
                request = chosen
        return self._paid(request, provider, record, lease, prepared, out, resumed)

    def _settled(
        self, request: SubmitRequest, record: JobRecord, lease: Lease, out: Path
    ) -> JobRecord | JobResult:
        """How a job that already ended (done, cancelled, failed) answers a re-run; else its row
        (``done`` whose file went away goes back to ``succeeded`` to fetch it again)."""
        job = record.job_id
        if record.status is JobStatus.DONE:
            if record.result_path and os.path.isfile(record.result_path):
                output = deliver(Path(record.result_path), out)
                self.emit(
                    "done", "done", f"already done: result at {output}", job, output=str(output)
                )
                return self._result(request, record, Outcome.DONE, output=output, resumed=True)
            if record.result_url:  # the file went away: fetch it again
                record = self.ledger.update(lease, status=JobStatus.SUCCEEDED)
        if record.status is JobStatus.CANCELLED:
            reason = "this job was cancelled (`preflight jobs cancel`); --new submits it again"
            self.emit("done", "fail", reason, job)
            return self._result(request, record, Outcome.CANCELLED, reason=reason, resumed=True)
        if record.status is JobStatus.FAILED:
            reason = f"{record.error} (an earlier run; --new submits the job again)"
            self.emit("done", "fail", f"this job failed earlier: {reason}", job)
            return self._result(request, record, Outcome.FAILED, reason=reason, resumed=True)
        return record

    def _paid(
        self,
        request: SubmitRequest,
        provider: Provider,
        record: JobRecord,
        lease: Lease,
        prepared: Mapping[str, Media],
        out: Path,
        resumed: bool,
    ) -> JobResult:
        """Create (unless a task exists), wait and download, holding a provider slot from the
        create until the task ends."""
        job = record.job_id
        self.gate.acquire()
        try:
            if record.task_id is None:
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


# --- helpers --------------------------------------------------------------------------------


def _replace(request: SubmitRequest, **changes: Any) -> SubmitRequest:
    from dataclasses import replace

    return replace(request, **changes)


def _profile_fits(request: SubmitRequest) -> None:
    """The profile loads and is written for the provider the job goes to (else the check would
    judge it by another provider's limits): a ConfigError before any ledger row."""
    from preflight.rules.profiles import load_profile

    profile = load_profile(request.profile_name)
    if profile.provider != request.provider:
        raise ProviderMismatchError(
            f"profile {profile.id!r} is for {profile.provider}, not {request.provider}: pass "
            f"--provider {profile.provider}, or a {request.provider} profile"
        )


def _url_fingerprint(url: str) -> dict[str, Any]:
    """The URL, plus its ETag and size when a HEAD request tells them.

    The HEAD runs under one overall deadline (`preflight.client.deadline`), like every fetch of
    an input: a server that trickles its headers cannot stall a submit, it only loses the ETag."""
    import httpx

    from preflight.client.deadline import Deadline, deadline_client

    found: dict[str, Any] = {"url": url}
    with (
        contextlib.suppress(httpx.HTTPError),
        deadline_client(Deadline(HEAD_TIMEOUT), read_timeout=HEAD_TIMEOUT) as client,
    ):
        response = client.head(url)
        if response.status_code == 200:
            if response.headers.get("etag"):
                found["etag"] = response.headers["etag"]
            length = response.headers.get("content-length", "")
            if length.isdigit():
                found["size"] = int(length)
    return found


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
    speech: dict[str, Any] = {name: params.get(name) for name in SPEECH_FIELDS}
    from preflight.submitting.faces import AdvancedLipSync

    return SubmitRequest(
        video=str(options["video"]),
        provider=record.provider,
        audio=options.get("audio"),
        **speech,
        profile=options.get("profile"),
        fix=bool(options.get("fix", True)),
        face=bool(options.get("face", True)),
        strict=bool(options.get("strict", False)),
        config=options.get("config"),
        callback_url=params.get("callback_url"),
        external_task_id=params.get("external_task_id"),
        upload_to=options.get("upload_to"),
        out=record.out_path,
        wait=wait,
        timeout=timeout,
        name=options.get("name"),
        advanced=AdvancedLipSync.from_params(params),
    )
