"""Many jobs at once: bounded concurrency, backing off on 1303, one outcome per job.

`read_job_lines` turns a jobs file (the one schema `check --jobs` and `fix --jobs` read too:
`preflight.checking.jobsfile`, JSONL or CSV; paths relative to the file) into requests, keeping a
bad line as an error of its own. `run_batch` runs them through one `Submitter` on a thread pool:
at most ``concurrency`` jobs hold a provider slot at once, the gate shrinks when the provider
answers 1303, and one failed job never stops the others.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preflight.checking.jobsfile import read_jobs_file
from preflight.model.errors import ConfigError, PreflightError
from preflight.submitting.model import JobResult, Outcome, SubmitRequest
from preflight.submitting.pipeline import Submitter
from preflight.submitting.registry import REGISTRY

__all__ = [
    "DEFAULT_CONCURRENCY",
    "BatchLine",
    "batch_exit_code",
    "read_job_lines",
    "run_batch",
    "summary",
]

# each provider's default, from its registry entry (a Kling resource pack allows a few at once)
DEFAULT_CONCURRENCY = {name: e.concurrency for name, e in REGISTRY.items()}

# job threads when check and fix run on an engine (each mostly waits on its item there)
MAX_JOB_THREADS = 256

# jobs-file fields a lip-sync request has no use for (they belong to image2video)
_NOT_SUBMIT = ("image", "prompt", "negative_prompt")


@dataclass(frozen=True, slots=True)
class BatchLine:
    """One line of a jobs file: a request, or why the line is not one."""

    name: str
    request: SubmitRequest | None = None
    error: str | None = None


def read_job_lines(path: str | os.PathLike[str], defaults: Mapping[str, Any]) -> list[BatchLine]:
    """Requests from a JSONL jobs file; ``defaults`` are the command line's options."""
    jobs = read_jobs_file(path)
    lines: list[BatchLine] = []
    for line in jobs.lines:
        name = f"{Path(jobs.label).name}:{line.lineno}"
        try:
            if line.spec is None:
                raise ValueError(line.error)
            data = line.spec.given()
            unused = [k for k in _NOT_SUBMIT if k in data]
            if unused:
                raise ValueError(
                    f"{', '.join(unused)}: not a lip-sync field (`preflight animate` takes them)"
                )
            merged = {**defaults, **data}
            merged.setdefault("name", data.get("name") or name)
            request = SubmitRequest(**merged).validate()
        except (ValueError, TypeError, ConfigError) as exc:
            lines.append(BatchLine(name, error=str(exc)))
            continue
        lines.append(BatchLine(request.display_name, request=request))
    if not lines:
        raise ConfigError(f"jobs file {jobs.label} has no jobs")
    return lines


def run_batch(
    submitter: Submitter,
    lines: Sequence[BatchLine],
    *,
    concurrency: int,
    on_result: Callable[[JobResult], None] | None = None,
) -> list[JobResult]:
    """Run every line; results in the file's order. ``on_result`` is called as each one ends."""
    from preflight.submitting.gate import SlotGate

    batch = submitter.with_gate(SlotGate(concurrency))
    results: dict[int, JobResult] = {}

    def one(index: int, line: BatchLine) -> JobResult:
        if line.request is None:
            return JobResult(line.name, Outcome.REJECTED, reason=line.error)
        try:
            return batch.run(line.request)
        except PreflightError as exc:
            return JobResult(
                line.name, Outcome.FAILED, reason=str(exc), provider=line.request.provider
            )

    # threads beyond the gate's limit prepare (check, fix, upload) while others wait on tasks
    workers = max(1, min(len(lines), concurrency * 2))
    if submitter.engine is not None:  # checks and fixes wait on a cluster: keep all of it busy
        workers = max(1, min(len(lines), MAX_JOB_THREADS, concurrency + 2 * submitter.engine.slots))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="preflight-job") as pool:
        futures = {pool.submit(one, i, line): i for i, line in enumerate(lines)}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            if on_result is not None:
                on_result(result)
    return [results[i] for i in range(len(lines))]


def summary(results: Sequence[JobResult]) -> dict[str, Any]:
    """The batch's JSON summary: counts by outcome and one entry per job."""
    counts = Counter(r.outcome.value for r in results)
    return {
        "jobs": len(results),
        "outcomes": {o.value: counts.get(o.value, 0) for o in Outcome},
        "ok": all(r.ok for r in results),
        "results": [r.to_dict() for r in results],
    }


def batch_exit_code(results: Sequence[JobResult]) -> int:
    """1 when any job failed or was rejected, else 3 when any gave up waiting, else 0."""
    codes = {r.exit_code for r in results}
    return 1 if 1 in codes else 3 if 3 in codes else 0
