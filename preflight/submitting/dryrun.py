"""`preflight submit --dry-run`: everything up to the create, then the exact request, sent nowhere.

For one job: the one verdict (`preflight.checking`), the fix plan with its FFmpeg argv (nothing
is encoded), how each input would reach the provider (nothing is uploaded), the cost estimate,
and the create request. The request is built by the client's own operation
(`preflight.client._core.first_call`), the same code a real submit runs, so the two cannot drift;
secrets in its headers are redacted and inline media is shown as its byte length and digest.
No ledger is opened (none is created), and nothing is sent to the provider.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from preflight.model.errors import ConfigError, InputError
from preflight.model.findings import Finding
from preflight.model.pricing import Estimate
from preflight.submitting.model import SubmitRequest, is_url
from preflight.submitting.providers import Media, Provider
from preflight.submitting.registry import entry

if TYPE_CHECKING:
    from preflight.client._core import Call
    from preflight.report.model import Result
    from preflight.submitting.batch import BatchLine

__all__ = ["JobPlan", "abbreviate", "plan_job", "redact_headers", "render_call"]

SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie")
SECRET_WORDS = ("key", "token", "secret", "signature", "password")
BASE64_MIN = 200  # a longer string of base64 characters is inline media: shown by size
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


@dataclass(frozen=True, slots=True)
class JobPlan:
    """What submit would do with one job. ``verdict``: ``send`` (the request would go out),
    ``rejected`` (the inputs fail and cannot be fixed), ``blocked`` (a file has no way to reach
    the provider), ``refused`` (``--max-cost``) or ``error`` (a bad jobs-file line)."""

    name: str
    verdict: str
    reason: str | None = None
    provider: str | None = None
    profile: str | None = None
    job_id: str | None = None
    findings: tuple[Finding, ...] = ()
    fixes: tuple[Mapping[str, Any], ...] = ()
    hosting: Mapping[str, str] = field(default_factory=dict)
    estimate: Estimate | None = None
    request: Mapping[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict == "send" else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "reason": self.reason,
            "provider": self.provider,
            "profile": self.profile,
            "job_id": self.job_id,
            "findings": [f.to_dict() for f in self.findings],
            "fixes": [dict(f) for f in self.fixes],
            "hosting": dict(self.hosting),
            "estimate": None if self.estimate is None else self.estimate.to_dict(),
            "request": None if self.request is None else dict(self.request),
        }

    def text(self) -> str:
        """The plan as a terminal shows it."""
        head = f"{self.name}"
        if self.provider:
            head += f" → {self.provider} (profile {self.profile})"
        if self.job_id:
            head += f", job {self.job_id}"
        lines = [head]
        for f in self.findings:
            lines.append(f"  {f.severity.value:<8} {f.rule}: {f.message}")
        for fix in self.fixes:
            lines.append(f"  fix {fix['role']}: {fix['strategy']}")
            lines.extend(f"    $ {shlex.join(cmd)}" for cmd in fix["commands"])
        for role, how in self.hosting.items():
            lines.append(f"  {role}: {how}")
        if self.estimate is not None:
            lines.append(f"  estimate: {self.estimate.text()}")
        if self.request is not None:
            lines.append("  request:")
            lines.append(f"    {self.request['method']} {self.request['url']}")
            lines.extend(f"    {k}: {v}" for k, v in self.request["headers"].items())
            if self.request.get("json") is not None:
                body = json.dumps(self.request["json"], indent=2, ensure_ascii=False)
                lines.extend(f"    {line}" for line in body.splitlines())
        if self.verdict == "send":
            lines.append("  would send: yes (dry run: nothing sent, nothing recorded)")
        else:
            lines.append(f"  would send: no, {self.verdict}: {self.reason}")
        return "\n".join(lines)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers fit to print: credentials keep their scheme only (``Bearer ***``)."""
    shown: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in SECRET_HEADERS:
            scheme, _, rest = value.partition(" ")
            shown[name] = f"{scheme} ***" if rest else "***"
        elif any(word in lower for word in SECRET_WORDS):
            shown[name] = "***"
        else:
            shown[name] = value
    return shown


def abbreviate(value: Any) -> Any:
    """A JSON body with inline media (long base64 strings) shown as its size and sha256."""
    if isinstance(value, Mapping):
        return {k: abbreviate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [abbreviate(v) for v in value]
    if isinstance(value, str) and len(value) >= BASE64_MIN and _BASE64.fullmatch(value):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return value
        return f"<base64: {len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}>"
    return value


def render_call(call: Call) -> dict[str, Any]:
    """A client's request as a dry run prints it: method, full URL, redacted headers, body."""
    url = call.url
    if call.params:
        url += "?" + urlencode({k: v for k, v in call.params.items() if v is not None})
    headers = redact_headers(call.headers)
    if call.json is not None:
        headers.setdefault("Content-Type", "application/json")  # as httpx adds it
    return {"method": call.method, "url": url, "headers": headers, "json": abbreviate(call.json)}


def plan_job(line: BatchLine, provider: Provider | None = None) -> JobPlan:
    """What submit would do with one job, doing none of it (see the module docstring).

    ``provider`` defaults to one made from the registry and the environment (its keys are
    needed to build the request as it would be sent, and never printed)."""
    if line.request is None:
        return JobPlan(line.name, "error", reason=line.error)
    request = line.request.validate()
    if provider is None:
        from preflight.submitting.registry import make_provider

        provider = make_provider(request.provider)
    from preflight.submitting.pipeline import _profile_fits

    _profile_fits(request)
    if request.upload_to:
        from preflight.submitting.hosting.s3 import parse_s3_url

        parse_s3_url(request.upload_to)
    return _Planner(request, provider).plan()


class _Planner:
    """One job's dry run, step by step (each returns a finished plan when the job stops)."""

    def __init__(self, request: SubmitRequest, provider: Provider) -> None:
        from preflight.submitting.cost import estimate_request

        self.request = request
        self.provider = provider
        self.estimate = estimate_request(request)
        self.sources = {r: s for r in ("video", "audio") if (s := getattr(request, r)) is not None}
        self.job_id = _job_id(request, provider, self.sources)
        self.findings: tuple[Finding, ...] = ()
        self.fixes: list[dict[str, Any]] = []
        self.fixed: set[str] = set()
        self.hosting: dict[str, str] = {}
        self.checked: dict[str, str] = dict(self.sources)
        self.tmp = Path()

    def stop(self, verdict: str, reason: str | None, request: Any = None) -> JobPlan:
        return JobPlan(
            name=self.request.display_name,
            verdict=verdict,
            reason=reason,
            provider=self.provider.name,
            profile=self.request.profile_name,
            job_id=self.job_id,
            findings=self.findings,
            fixes=tuple(self.fixes),
            hosting=dict(self.hosting),
            estimate=self.estimate,
            request=request,
        )

    def plan(self) -> JobPlan:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="preflight-dry-run-") as tmp:
            self.tmp = Path(tmp)
            return self._plan()

    def _plan(self) -> JobPlan:
        from preflight.submitting.cost import over_budget
        from preflight.submitting.steps.prepare import judge

        self.checked = {**self.sources, **self._copies()}
        result = judge(self.request, self.checked)
        self.findings = tuple(result.findings)
        if not result.ok:
            stopped = self._fix(result)
            if stopped is not None:
                return stopped
        media = self._media()
        if isinstance(media, JobPlan):
            return media
        external = (
            self.request.external_task_id or f"preflight-{self.job_id}-<8 hex, when recorded>"
        )
        describe = getattr(self.provider, "describe", None)
        if describe is None:
            raise ConfigError(f"--dry-run cannot show {self.provider.name}'s request yet")
        call = describe(self.request, media, external)
        shown = render_call(call)
        if self.request.max_cost is not None:
            refusal = over_budget([self.estimate], self.request.max_cost)
            if refusal is not None:
                return self.stop("refused", refusal, shown)
        return self.stop("send", None, shown)

    def _fix(self, result: Result) -> JobPlan | None:
        from preflight.submitting.steps.prepare import blocking_findings, fix_roles

        strict = self.request.strict
        failing, blocking = blocking_findings(result, strict=strict)
        if not self.request.fix or blocking:
            why = blocking or failing
            reason = "; ".join(f"{f.rule}: {f.message}" for f in why)
            return self.stop("rejected", f"cannot be fixed: {reason}" if blocking else reason)
        for role in fix_roles(result, self.sources, strict=strict):
            source = self.sources[role]
            local = self._copy(role, source) if is_url(source) else source
            plan = _fix_plan(self.request, local, role, self.job_id)
            if local != source:  # submit fixes a copy it keeps in the work folder: show that path
                kept = str(_work_dir(self.job_id) / Path(local).name)
                plan["commands"] = [[a.replace(local, kept) for a in c] for c in plan["commands"]]
            self.fixes.append(plan)
            if plan["target"] is None:
                return self.stop("rejected", f"the {role} cannot be fixed: {plan['reason']}")
            self.fixed.add(role)
        return None

    def _copies(self) -> dict[str, str]:
        """Copies of URL inputs the probe cannot read where they are, as submit fetches them to
        check (the URL is still what would be sent)."""
        from preflight.probing import probe

        copies: dict[str, str] = {}
        for role, source in self.sources.items():
            if not is_url(source):
                continue
            try:
                probe(source)
            except InputError:
                copies[role] = self._copy(role, source)
        return copies

    def _copy(self, role: str, url: str) -> str:
        """A local copy of ``url`` in this dry run's temp folder (fetched once)."""
        from preflight.submitting.download import download
        from preflight.submitting.steps.prepare import _suffix

        target = self.tmp / f"{role}-source{_suffix(url)}"
        if not target.exists():
            download(url, target)
        return str(target)

    def _media(self) -> dict[str, Media] | JobPlan:
        """How each input would reach the provider, without uploading anything."""
        media: dict[str, Media] = {}
        for role, source in self.sources.items():
            name = Path(source).name if not is_url(source) else source
            if is_url(source) and role not in self.fixed:
                self.hosting[role] = "by URL, as given"
                media[role] = Media(url=source)
                continue
            what = f"the fixed {role}" if role in self.fixed else f"{role} {name}"
            route = entry(self.provider.name).hosting(role, upload_to=bool(self.request.upload_to))
            if route is None:
                reason = (
                    f"{what} is a local file, but {self.provider.name} fetches media by URL and "
                    "has no upload endpoint: pass --upload-to s3://BUCKET/PREFIX"
                )
                return self.stop("blocked", reason)
            if route == "inline":
                note = " (the input shown; the fixed file at submit)" if role in self.fixed else ""
                self.hosting[role] = f"sent inline as base64 in the body{note}"
                media[role] = Media(file=Path(source).resolve())
            elif route == "s3":
                self.hosting[role] = f"{what}: uploaded to {self.request.upload_to} (presigned URL)"
                media[role] = Media(url=f"<presigned URL of {what} under {self.request.upload_to}>")
            else:
                self.hosting[role] = f"{what}: uploaded with {self.provider.name}'s own upload"
                media[role] = Media(url=f"<{self.provider.name} upload URL of {what}>")
        return media


def _fix_plan(request: SubmitRequest, source: str, role: str, job_id: str) -> dict[str, Any]:
    """The plan `fix` would carry out for one input, with its FFmpeg argv (nothing runs), writing
    where a submit writes fixed files (the work folder beside the default ledger)."""
    import dataclasses

    from preflight.checking.config import resolve_config
    from preflight.fixing import FixOptions, plan_fix

    suffix = ".mp4" if role == "video" else ".m4a"
    stem = Path(source).stem if not is_url(source) else f"{role}-source"
    plan = plan_fix(
        source,
        profile=request.profile_name,
        output=_work_dir(job_id) / f"{stem}.fixed{suffix}",
        options=dataclasses.replace(FixOptions(), face=request.face),
        config=resolve_config(request.config),
    )
    return {
        "role": role,
        "strategy": plan.strategy.value,
        "target": plan.target,
        "reason": plan.reason or None,
        "duration": plan.duration,
        "commands": [list(c) for c in plan.commands],
    }


def _work_dir(job_id: str) -> Path:
    """Where a submit keeps this job's fixed files (beside the default ledger; created by it)."""
    from preflight.submitting.ledger import default_ledger_path

    return default_ledger_path().parent / "work" / job_id


def _job_id(request: SubmitRequest, provider: Provider, sources: Mapping[str, str]) -> str:
    """The id a new ledger row for this job would get (the key's first 12 hex digits)."""
    from preflight.submitting.ledger import file_sha256, job_key
    from preflight.submitting.pipeline import _url_fingerprint

    inputs: dict[str, dict[str, Any]] = {}
    for role, source in sources.items():
        if is_url(source):
            inputs[role] = _url_fingerprint(source)
        elif os.path.isfile(source):
            inputs[role] = {"sha256": file_sha256(source)}
        else:
            raise InputError(f"no such file: {source}", source=source)
    key = job_key(provider.name, provider.endpoint(request.mode), request.params(), inputs)
    return key[:12]
