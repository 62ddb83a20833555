"""Work items: checking or fixing one input, as a pure function that travels.

`check_item` and `fix_item` take everything they need as arguments (the input, its resolved job
fields, the profile, the config, the options), return a small frozen result and never raise:
an unreadable input is a finding, an unexpected failure is the result's ``error`` text. So a
process pool or a Dask worker on another machine runs them unchanged, and the coordinator
rebuilds the same `Report` a one-process run gives.

Fix outputs are written atomically wherever they go. Each attempt encodes into a staging folder
of its own (``OUT/.preflight-staging/<random>/``, on the same filesystem as ``OUT``) and moves
the verified file into place with `os.replace`; an ``s3://`` output is one PutObject of the
verified file. A worker killed mid-encode (its FFmpeg may even outlive it) leaves only its own
staging folder, which the coordinator removes at the end of the run; the retry writes the one
output again, whole. With ``resume``, a finished item leaves a marker
(``OUT/.preflight-done/<content>-<settings>.json``) keyed by the input's content (the SHA-256 of
its bytes; for an ``s3://`` input its size and ETag) and by the profile, options and config, so
a re-run skips it even under another name (copying the earlier output to this input's own
name, see `copy_output`), and redoes it when either changed. Inputs of one batch with the same
bytes are one item: the coordinator gives the others their outputs with `duplicate_result`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preflight.checking.check import Planned
from preflight.checking.config import Config
from preflight.engines import s3
from preflight.fixing.api import FixResult
from preflight.fixing.plan import FixOptions
from preflight.model.errors import InputError
from preflight.model.facts import MediaFacts
from preflight.model.findings import Finding, Severity
from preflight.model.job import Job
from preflight.model.profile import Profile
from preflight.model.sources import is_url
from preflight.report.model import Result

__all__ = [
    "DONE_DIR",
    "STAGING_DIR",
    "CheckItem",
    "CheckItemResult",
    "FixItem",
    "FixItemResult",
    "check_chunk",
    "check_item",
    "check_results",
    "chunk_results",
    "content_key",
    "copy_output",
    "duplicate_result",
    "fix_chunk",
    "fix_item",
    "own_output",
    "settings_key",
]

STAGING_DIR = ".preflight-staging"
DONE_DIR = ".preflight-done"
_MEDIA_ROLES = ("video", "audio", "image")
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One job to check: its planned sources and fields, and how to probe them."""

    index: int
    plan: Planned
    strict: bool = False
    backend: str = "auto"
    cache: bool = True
    face: bool = True
    force_face: bool = False
    preview: str | None = None  # this job's contact sheet path, when asked for


@dataclass(frozen=True, slots=True)
class CheckItemResult:
    """The job's `Result` (always set), and how long it took; ``error`` names a bug if one hit."""

    index: int
    result: Result
    error: str = ""
    elapsed: float = 0.0


@dataclass(frozen=True, slots=True)
class FixItem:
    """One input to fix. ``out_dir`` is a shared folder, an ``s3://`` prefix or None (beside)."""

    index: int
    source: str
    out_dir: str | None = None
    output: str | None = None
    threads: int | None = 1
    resume: bool = False
    settings: str = ""  # `settings_key` of the profile, options and config
    content: str = ""  # `content_key` of the input when the coordinator already computed it


@dataclass(frozen=True, slots=True)
class FixItemResult:
    """The input's `FixResult`; ``resumed`` when an earlier run had already done it."""

    index: int
    result: FixResult
    resumed: bool = False
    elapsed: float = 0.0


def _bug(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# --- check ------------------------------------------------------------------------------------


def probe_source(source: str, *, backend: str, cache: bool) -> MediaFacts | InputError:
    """One source's facts, or the InputError saying why it cannot be read (never raises)."""
    from preflight.checking.resolve import local_problem as _local_problem
    from preflight.probing import probe

    try:
        if s3.is_s3(source):
            return s3.probe_s3(source, backend=backend)
        if not is_url(source):
            problem = _local_problem(source)
            if problem is not None:
                return InputError(problem, source=source)
        return probe(source, backend=backend, cache=cache and not is_url(source))
    except InputError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - reported as this input's finding, not a traceback
        return InputError(f"could not be probed ({_bug(exc)})", source=source)


def check_item(item: CheckItem, profile: Profile, config: Config | None) -> CheckItemResult:
    """Probe the job's sources, evaluate the job, and return its `Result` as data."""
    from preflight.checking.evaluate import evaluate, is_ok
    from preflight.checking.faces import face_settings, face_timeline
    from preflight.checking.verdict import attach_faces

    started = time.monotonic()
    plan = item.plan
    try:
        media: dict[str, MediaFacts] = {}
        errors = list(plan.errors)
        for role, source in plan.sources.items():
            got = probe_source(source, backend=item.backend, cache=item.cache)
            if isinstance(got, MediaFacts):
                media[role] = got
            else:
                where = "" if source == plan.name else f"{source}: "
                errors.append((role, f"{where}{got}"))
        job = Job(
            name=plan.name,
            video=media.get("video"),
            audio=media.get("audio"),
            image=media.get("image"),
            input_errors=tuple(errors),
            **{k: v for k, v in plan.fields.items() if v is not None},
        )
        faces = face_settings(profile, config)
        job = attach_faces(  # the verdict's own face step: same analysis, same skips
            job, profile, config, face=item.face, force=item.force_face, preview=item.preview
        )
        findings = evaluate(job, profile, config)
        facts = {r: m for r in _MEDIA_ROLES if (m := getattr(job, r)) is not None}
        result = Result(
            name=plan.name,
            ok=is_ok(findings, strict=item.strict),
            findings=tuple(findings),
            facts=facts,
            location=plan.location,
            line=plan.line,
            timeline=face_timeline(job, faces) if faces else None,
        )
        return CheckItemResult(item.index, result, elapsed=time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 - errors are data: the job fails with the reason
        return CheckItemResult(
            item.index, lost_check(item, _bug(exc)), _bug(exc), time.monotonic() - started
        )


def lost_check(item: CheckItem, why: str) -> Result:
    """The failing `Result` of a job that could not be checked at all (a bug, a lost worker)."""
    finding = Finding("input.readable", Severity.ERROR, f"could not be checked ({why})")
    plan = item.plan
    return Result(plan.name, False, (finding,), {}, plan.location, plan.line)


def check_results(
    items: list[CheckItem], profile: Profile, config: Config | None
) -> list[CheckItemResult]:
    """`check_item` over a few items, as objects (the serial engine: nothing travels)."""
    return [check_item(item, profile, config) for item in items]


def check_chunk(items: list[CheckItem], profile: Profile, config: Config | None) -> bytes:
    """`check_item` over a few items, for a pool or a cluster: one task per chunk keeps the per-task
    cost small, and the results go back as one compact blob (`wire.encode_checks`; the
    coordinator reads it with `chunk_results`) rather than as pickled dataclasses."""
    from preflight.engines.wire import encode_checks

    done = [check_item(item, profile, config) for item in items]
    return encode_checks([(r.index, r.result, r.error, r.elapsed) for r in done])


def chunk_results(outcome: bytes | list[CheckItemResult]) -> list[CheckItemResult]:
    """What `check_chunk` (a blob) or `check_results` (the objects) returned, as results."""
    if not isinstance(outcome, bytes):
        return outcome
    from preflight.engines.wire import decode_checks

    return [CheckItemResult(*row) for row in decode_checks(outcome)]


# --- fix --------------------------------------------------------------------------------------


def settings_key(profile: Profile, options: FixOptions, config: Config | None) -> str:
    """A short hash of everything besides the input that decides a fix's output."""
    text = repr((profile, options, config))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def content_key(source: str) -> str:
    """The input's content: SHA-256 of a local file's bytes, or an object's size and ETag."""
    if s3.is_s3(source):
        return tag_key(s3.object_tag(source))
    digest = hashlib.sha256()
    with open(source, "rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()[:32]


def tag_key(tag: str) -> str:
    """The content key of an object whose `s3.object_tag` is ``tag``."""
    return hashlib.sha256(tag.encode()).hexdigest()[:32]


def _base(source: str) -> str:
    return os.path.basename(s3.parse(source)[1] if s3.is_s3(source) else source)


def own_output(source: str, like: str, like_source: str, out_dir: str | None) -> str:
    """Where ``source``'s output goes, named as ``like`` (the output of ``like_source``, an input
    with the same bytes) is: ``a.mkv -> OUT/a.mp4`` makes ``b.mkv -> OUT/b.mp4``, and beside the
    input ``a.fixed.mp4`` makes ``b.fixed.mp4`` in ``b``'s folder."""
    stem = Path(_base(like_source)).stem
    name = _base(like)
    tail = name[len(stem) :] if name.startswith(stem) else Path(name).suffix
    own = Path(_base(source)).stem + tail
    if out_dir is not None:
        return s3.join(out_dir, own) if s3.is_s3(out_dir) else os.path.join(out_dir, own)
    if s3.is_s3(source):  # an s3:// input always has --out-dir; this is only for completeness
        return s3.join(source.rsplit("/", 1)[0], own)
    return os.path.join(os.path.dirname(source), own)


def copy_output(output: str, target: str, staging: str | None = None) -> None:
    """Put a copy of the finished ``output`` at ``target``, atomically: a hard link where the file
    system allows (else a byte copy) made under a temp name in ``staging`` (a folder on the same
    file system, removed by the coordinator at the end of a run) or beside ``target``, then
    renamed into place; on S3 a server-side copy. Nothing is done when ``target`` already is that
    file (or, on S3, that object's bytes). Raises OSError."""
    from preflight.model.atomic import move_into_place, temp_beside

    if output == target:
        return
    if s3.is_s3(target):
        if not s3.is_s3(output):
            s3.upload(output, target)
        else:
            s3.copy(output, target)
        return
    if _same_file(output, target):
        return
    if staging is not None:
        os.makedirs(staging, exist_ok=True)
    tmp = str(temp_beside(staging if staging is not None else target))
    try:
        os.unlink(tmp)  # a fresh name of our own: the link (or copy) takes it
        try:
            os.link(output, tmp)
        except OSError:
            shutil.copyfile(output, tmp)
        move_into_place(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def duplicate_result(
    of: FixResult, source: str, out_dir: str | None, output: str | None = None
) -> FixResult:
    """The result for ``source``, an input with the same bytes as ``of.source``: never encoded
    again; its own output is a copy of ``of``'s (see `copy_output`). Never raises."""
    started = time.monotonic()
    if source == of.source:  # the same input named twice: the same output, counted once
        return dataclasses.replace(of, message=f"listed twice: {of.message}", attempts=())
    same = f"same content as {of.source}"
    if not of.ok or of.output is None:
        return FixResult(source, of.status, None, f"{same}: {of.message}".rstrip(": "))
    target = output or own_output(source, of.output, of.source, out_dir)
    staging = None if out_dir is None or s3.is_s3(out_dir) else os.path.join(out_dir, STAGING_DIR)
    try:
        copy_output(of.output, target, staging)
    except OSError as exc:
        return FixResult(source, "failed", None, f"{same}, but its output {_bug(exc)}")
    plan = of.plan and dataclasses.replace(of.plan, source=source, target=target, commands=())
    return dataclasses.replace(
        of,
        source=source,
        output=target,
        message=f"{same}: copied its output",
        plan=plan,
        attempts=(),
        commands=(),
        elapsed=time.monotonic() - started,
    )


def _marker(out_dir: str, key: str) -> str:
    name = f"{key}.json"
    return (
        s3.join(out_dir, f"{DONE_DIR}/{name}")
        if s3.is_s3(out_dir)
        else str(Path(out_dir, DONE_DIR, name))
    )


def _read_marker(path: str) -> dict[str, Any] | None:
    if s3.is_s3(path):
        text = s3.read_text(path)
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError:
            return None
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _write_marker(path: str, data: dict[str, Any]) -> None:
    text = json.dumps(data, sort_keys=True)
    if s3.is_s3(path):
        s3.write_text(path, text)
        return
    folder = Path(path).parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".marker.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _output_exists(output: str | None) -> bool:
    if output is None:
        return True
    return s3.exists(output) if s3.is_s3(output) else os.path.isfile(output)


def _resumed(item: FixItem, key: str) -> FixResult | None:
    """The result an earlier run recorded for this content and these settings, if still true."""
    assert item.out_dir is not None
    data = _read_marker(_marker(item.out_dir, key))
    if data is None or data.get("status") not in ("fixed", "copied", "skipped"):
        return None
    output = data.get("output")
    if not _output_exists(output):
        return None
    message = str(data.get("message", ""))
    done_from = str(data.get("source") or item.source)
    if output is not None and done_from != item.source:  # same bytes under another name
        own = item.output or own_output(item.source, output, done_from, item.out_dir)
        if own != output:
            staging = None if s3.is_s3(item.out_dir) else os.path.join(item.out_dir, STAGING_DIR)
            copy_output(output, own, staging)
            output, message = own, f"same content as {done_from}: copied its output"
    return FixResult(
        source=item.source,
        status=str(data["status"]),
        output=output,
        message=f"{message} (done by an earlier run: not redone)".lstrip(),
    )


def _resume_key(item: FixItem) -> str:
    """The item's resume key, or "" when the input cannot be read (fix then says why)."""
    try:
        return f"{item.content or content_key(item.source)}-{item.settings}"
    except (OSError, InputError):
        return ""


def _local_copy(source: str, folder: str) -> str:
    """An ``s3://`` input downloaded into ``folder`` under its own name; a path as it is."""
    if not s3.is_s3(source):
        return source
    name = os.path.basename(s3.parse(source)[1]) or "input"
    path = os.path.join(folder, name)
    s3.download(source, path)
    return path


def _staging_root(item: FixItem, scratch: str) -> str:
    if item.out_dir is None or s3.is_s3(item.out_dir):
        return scratch  # beside the input: fix's own temp-and-rename; s3: upload afterwards
    return os.path.join(item.out_dir, STAGING_DIR)


def _publish(result: FixResult, item: FixItem, staged_dir: str) -> FixResult:
    """Move a verified output from its staging folder to where it belongs (atomically)."""
    if item.out_dir is None or result.output is None or not result.output.startswith(staged_dir):
        return result
    name = os.path.basename(result.output)
    final = (
        s3.join(item.out_dir, name) if s3.is_s3(item.out_dir) else os.path.join(item.out_dir, name)
    )
    if final == item.source or (not s3.is_s3(final) and _same_file(final, item.source)):
        return dataclasses.replace(
            result,
            status="unfixable",
            output=None,
            message="the output would overwrite the input; choose another --out-dir",
        )
    if s3.is_s3(final):
        s3.upload(result.output, final)
    else:
        os.replace(result.output, final)
    plan = result.plan and dataclasses.replace(result.plan, target=final)
    return dataclasses.replace(result, output=final, plan=plan)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def fix_item(
    item: FixItem, profile: Profile, options: FixOptions, config: Config | None
) -> FixItemResult:
    """Fix one input (see the module docstring for where the output goes); never raises."""
    from preflight.fixing.api import fix

    started = time.monotonic()
    scratch = tempfile.mkdtemp(prefix="preflight-fix-")
    staged = ""
    try:
        key = ""
        if item.resume and item.out_dir is not None:
            key = _resume_key(item)
            done = _resumed(item, key) if key else None
            if done is not None:
                return FixItemResult(item.index, done, True, time.monotonic() - started)
        local = _local_copy(item.source, scratch)
        root = _staging_root(item, scratch)
        staged = os.path.join(root, uuid.uuid4().hex) if root != scratch else scratch
        os.makedirs(staged, exist_ok=True)
        out_dir = staged if item.out_dir is not None else None
        result = fix(
            local,
            profile=profile,
            output=item.output,
            out_dir=out_dir,
            options=options,
            config=config,
            threads=item.threads,
        )
        if local != item.source:
            plan = result.plan and dataclasses.replace(result.plan, source=item.source)
            result = dataclasses.replace(result, source=item.source, plan=plan)
        result = _publish(result, item, staged)
        if key and result.ok:
            _write_marker(
                _marker(item.out_dir or "", key),
                {"source": item.source, "status": result.status, "output": result.output,
                 "message": result.message},
            )  # fmt: skip
        return FixItemResult(item.index, result, False, time.monotonic() - started)
    except InputError as exc:  # an s3:// input that cannot be downloaded: as fix says it
        failed = FixResult(source=item.source, status="unfixable", message=str(exc))
        return FixItemResult(item.index, failed, False, time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 - errors are data: this input failed, with the reason
        failed = FixResult(source=item.source, status="failed", message=_bug(exc))
        return FixItemResult(item.index, failed, False, time.monotonic() - started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if staged and staged != scratch:
            shutil.rmtree(staged, ignore_errors=True)


def fix_chunk(
    items: list[FixItem], profile: Profile, options: FixOptions, config: Config | None
) -> list[FixItemResult]:
    """`fix_item` over a few items (usually one: a fix is long enough to be a task of its own)."""
    return [fix_item(item, profile, options, config) for item in items]
