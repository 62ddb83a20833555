"""Check or fix a whole batch on an engine: plan here, run items anywhere, report here.

The coordinator (this process) plans the jobs exactly as `preflight.checking.check.check` does,
sends the work items to the engine, collects results as they complete (``on_result`` is called
once per item: a progress display), and sorts them back into input order. So the report is the
one a one-process run gives: same JSON, same order, same exit code.
"""

from __future__ import annotations

import contextlib
import fnmatch
import math
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from preflight.checking.config import Config
from preflight.engines import s3
from preflight.engines.items import (
    STAGING_DIR,
    CheckItem,
    CheckItemResult,
    FixItem,
    FixItemResult,
    check_chunk,
    check_results,
    chunk_results,
    content_key,
    duplicate_result,
    fix_chunk,
    lost_check,
    settings_key,
    tag_key,
)
from preflight.engines.pool import Engine, Session, chunked, run_chunks
from preflight.fixing.api import FixResult
from preflight.fixing.plan import FixOptions
from preflight.model.errors import ConfigError
from preflight.model.profile import Profile
from preflight.report.model import Report, Result

__all__ = ["check_batch", "check_chunk_size", "expand_s3", "fix_batch"]

PathLike = str | os.PathLike[str]
MAX_CHECK_CHUNK = 64
# A Dask task costs about 8 ms of CPU over the scheduler, the client and the worker's event loop
# (benchmarks/scale.py, docs/scale.md), a local pool task about 1 ms, and a check about 0.3 ms:
# on Dask, half as many tasks a slot, twice as big, so that cost stays near a local pool's, and
# a cap of 512 (with results sent back as one blob, a chunk is cheap to return at any size: 47
# tasks of 128 on 6,000 checks cost ~10 % more CPU than 12 of 512; four tasks a slot still
# balance the load)
MAX_DASK_CHUNK = 512
_TASKS_PER_SLOT = {"local": 8, "dask": 4}


def check_chunk_size(items: int, engine: Engine | Session) -> int:
    """Items per task: a few tasks per worker thread (balance; eight on a local pool, four on
    Dask), at most `MAX_CHECK_CHUNK` items (`MAX_DASK_CHUNK` on Dask)."""
    name = engine.engine.name if isinstance(engine, Session) else engine.name
    if isinstance(engine, Session):
        workers = engine.slots
    elif name == "serial":
        return max(1, items)
    else:
        workers = engine.workers or os.cpu_count() or 1
    per_slot = _TASKS_PER_SLOT.get(name, 8)
    most = MAX_DASK_CHUNK if name == "dask" else MAX_CHECK_CHUNK
    return max(1, min(most, math.ceil(items / (workers * per_slot))))


def expand_s3(
    inputs: Iterable[PathLike],
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    *,
    media: Sequence[str] = (),
) -> list[str]:
    """``s3://bucket/prefix/`` (a trailing slash) lists the media objects under it, as a folder
    walk does: ``include`` globs (default: ``media``, else video and image names, leaving out
    preflight's own outputs), ``exclude`` globs, no hidden entries (the ``.preflight-done/``
    markers). Other inputs as given. Raises ConfigError for a prefix that lists no media."""
    from preflight.checking.resolve import DEFAULT_INCLUDE, OWN_OUTPUTS

    skip = () if tuple(include) else OWN_OUTPUTS
    wanted = (
        tuple(include) or tuple(media) or (*DEFAULT_INCLUDE["video"], *DEFAULT_INCLUDE["image"])
    )
    unwanted = (*exclude, *skip)
    out: list[str] = []
    for item in inputs:
        text = os.fspath(item)
        if not (s3.is_s3(text) and text.endswith("/")):
            out.append(text)
            continue
        found = [
            uri for uri in s3.list_prefix(text) if _media_key(uri[len(text) :], wanted, unwanted)
        ]
        if not found:
            raise ConfigError(f"{text} has no media objects (looked for {', '.join(wanted)})")
        out.extend(found)
    return out


def _media_key(rel: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """A key below a prefix that a folder walk would take: no hidden part, a matching name."""
    parts = rel.split("/")
    if not rel or rel.endswith("/") or any(p.startswith(".") for p in parts):
        return False

    def matches(patterns: Sequence[str]) -> bool:
        low = rel.lower()
        return any(
            fnmatch.fnmatchcase(low, p.lower()) or fnmatch.fnmatchcase(parts[-1].lower(), p.lower())
            for p in patterns
        )

    return matches(include) and not matches(exclude)


def check_batch(
    inputs: Iterable[PathLike] = (),
    profile: str | os.PathLike[str] | Profile = "kling-lipsync",
    *,
    engine: Engine | Session | None = None,
    jobs: PathLike | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    config: Config | None = None,
    strict: bool = False,
    backend: str = "auto",
    cache: bool = True,
    face: bool = True,
    force_face: bool = False,
    preview: PathLike | None = None,
    on_planned: Callable[[int], None] | None = None,
    on_result: Callable[[int], None] | None = None,
    **request: Any,
) -> Report:
    """`preflight.checking.check.check` with the per-job work on ``engine``; the same `Report`.

    ``on_planned(total)`` is called once the jobs are known, ``on_result(n)`` as ``n`` more end.
    """
    from preflight.checking.check import media_only, plan
    from preflight.checking.faces import preview_path

    engine = engine or Engine()
    if not isinstance(profile, Profile):
        from preflight.rules.profiles import load_profile

        profile = load_profile(profile)
    if config is not None:
        include = tuple(include) or config.include
        exclude = tuple(exclude) or config.exclude
    if jobs is None and not any(request.get(k) for k in ("text", "voice_id", "audio")):
        profile = media_only(profile)
    planned = plan(
        expand_s3(inputs, include, exclude),
        profile,
        jobs=jobs,
        include=include,
        exclude=exclude,
        **request,
    )
    videos = [p.name for p in planned if "video" in p.sources]
    items = [
        CheckItem(
            index=i,
            plan=p,
            strict=strict,
            backend=backend,
            cache=cache,
            face=face,
            force_face=force_face,
            preview=(
                preview_path(preview, videos.index(p.name), len(videos))
                if preview and "video" in p.sources
                else None
            ),
        )
        for i, p in enumerate(planned)
    ]
    if on_planned is not None:
        on_planned(len(items))
    results: list[Result | None] = [None] * len(items)
    with _started(engine, len(items)) as running:  # chunks sized by the cluster's real slots
        chunks = chunked(items, check_chunk_size(len(items), running))
        name = running.engine.name if isinstance(running, Session) else running.name
        work: Callable[..., bytes | list[CheckItemResult]] = (
            check_results if name == "serial" else check_chunk  # only what travels is encoded
        )
        for chunk, outcome in run_chunks(work, chunks, (profile, config), running):
            done: list[CheckItemResult] = (
                [CheckItemResult(it.index, lost_check(it, _lost(outcome))) for it in chunk]
                if isinstance(outcome, BaseException)
                else chunk_results(outcome)
            )
            for got in done:
                results[got.index] = got.result
            if on_result is not None:
                on_result(len(done))
    final = tuple(r for r in results if r is not None)
    assert len(final) == len(items)
    return Report(profile=profile.id, results=final, strict=strict)


@contextlib.contextmanager
def _started(engine: Engine | Session, items: int) -> Iterator[Engine | Session]:
    """``engine`` running for this batch: a `Session` as it is, a serial engine as it is, else a
    `Session` started here (a local pool of at most one process per item) and stopped after."""
    if isinstance(engine, Session) or engine.name == "serial" or items == 0:
        yield engine
        return
    if engine.name == "local":
        engine = Engine("local", None, max(1, min(engine.workers or os.cpu_count() or 1, items)))
    with Session(engine) as session:
        yield session


def _lost(exc: BaseException) -> str:
    return f"its worker was lost: {type(exc).__name__}: {exc}"


def _check_out_dir(sources: Sequence[str], out_dir: str | None, output: str | None) -> None:
    if out_dir is None and any(s3.is_s3(s) for s in sources):
        raise ConfigError("s3:// inputs need --out-dir (a shared folder or s3://BUCKET/PREFIX)")
    if output is not None and len(sources) != 1:
        raise ConfigError("-o/--output takes one input; use --out-dir for several")
    if out_dir is not None and not s3.is_s3(out_dir):
        os.makedirs(out_dir, exist_ok=True)


def fix_batch(
    sources: Sequence[PathLike],
    *,
    profile: str | os.PathLike[str] | Profile = "kling-lipsync",
    options: FixOptions | None = None,
    config: Config | None = None,
    out_dir: str | None = None,
    output: str | None = None,
    engine: Engine | Session | None = None,
    resume: bool = True,
    threads: int | None = 1,
    on_result: Callable[[FixResult], None] | None = None,
) -> list[FixResult]:
    """`fix` every source on ``engine``, results in input order (one task per input).

    ``out_dir`` is a folder every worker can reach, or ``s3://BUCKET/PREFIX``; with it and
    ``resume``, inputs a previous run already finished (same bytes, same settings) are not
    fixed again. ``threads`` is FFmpeg's threads per item (1: parallelism comes from items).
    """
    from preflight.fixing.api import _clashes

    engine = engine or Engine()
    if not isinstance(profile, Profile):
        from preflight.rules.profiles import load_profile

        profile = load_profile(profile)
    options = options or FixOptions()
    from preflight.checking.resolve import DEFAULT_INCLUDE

    texts = expand_s3(sources, media=DEFAULT_INCLUDE["video"])  # a prefix: the videos under it
    _check_out_dir(texts, out_dir, output)
    clashes = _clashes(texts, out_dir) if not (out_dir and s3.is_s3(out_dir)) else {}
    key = settings_key(profile, options, config)
    results: list[FixResult | None] = [None] * len(texts)

    def record(index: int, result: FixResult) -> None:
        results[index] = result
        if on_result is not None:
            on_result(result)

    todo = []
    for i, source in enumerate(texts):
        if source in clashes:
            record(i, clashes[source])
        else:
            todo.append(i)
    contents, copies, firsts = _same_bytes(texts, todo)
    items = [
        FixItem(i, texts[i], out_dir, output, threads, resume, key, contents.get(texts[i], ""))
        for i in firsts
    ]
    try:
        for chunk, outcome in run_chunks(
            fix_chunk, chunked(items, 1), (profile, options, config), engine
        ):
            done: list[FixItemResult] = (
                [_lost_fix(it, outcome) for it in chunk]
                if isinstance(outcome, BaseException)
                else outcome
            )
            for got in done:
                record(got.index, got.result)
                for j in copies.get(got.index, ()):
                    record(j, duplicate_result(got.result, texts[j], out_dir, output))
    finally:
        if out_dir is not None and not s3.is_s3(out_dir):
            _remove_staging(out_dir)
    final = [r for r in results if r is not None]
    assert len(final) == len(texts)
    return final


def _same_bytes(
    texts: Sequence[str], todo: Sequence[int]
) -> tuple[dict[str, str], dict[int, list[int]], list[int]]:
    """The content keys `_contents` found; input index -> the later inputs with the same bytes
    (their outputs are copies of its output); the inputs to fix (``todo`` less those copies)."""
    contents = _contents([texts[i] for i in todo])
    first: dict[str, int] = {}
    copies: dict[int, list[int]] = {}
    firsts = []
    for i in todo:
        content = contents.get(texts[i], "")
        if content in first:
            copies.setdefault(first[content], []).append(i)
            continue
        if content:
            first[content] = i
        firsts.append(i)
    return contents, copies, firsts


def _contents(sources: Sequence[str]) -> dict[str, str]:
    """The content keys of the inputs that may share their bytes with another input of the batch:
    local files of the same size are hashed, ``s3://`` objects keyed by size and ETag (HEADs in
    parallel). Unreadable inputs are left out (their own item says why)."""
    sizes: dict[int, list[str]] = {}
    remote = []
    for source in sources:
        if s3.is_s3(source):
            remote.append(source)
            continue
        with contextlib.suppress(OSError):
            if os.path.isfile(source):
                sizes.setdefault(os.path.getsize(source), []).append(source)
    keys: dict[str, str] = {}
    for group in sizes.values():
        for source in dict.fromkeys(group) if len(group) > 1 else ():
            with contextlib.suppress(OSError):
                keys[source] = content_key(source)
    if len(remote) > 1:
        tags = s3.object_tags(list(dict.fromkeys(remote)))
        keys.update((uri, tag_key(tag)) for uri, tag in tags.items())
    return keys


def _lost_fix(item: FixItem, exc: BaseException) -> FixItemResult:
    return FixItemResult(item.index, FixResult(item.source, "failed", message=_lost(exc)))


def _remove_staging(out_dir: str) -> None:
    """Drop what killed attempts left in the staging folder (their outputs were never moved)."""
    shutil.rmtree(os.path.join(out_dir, STAGING_DIR), ignore_errors=True)
