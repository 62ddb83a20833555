"""The library API: `plan_fix` (what would be done, and the exact FFmpeg command lines) and `fix`.

::

    plan = plan_fix("clip.mkv", profile="kling-lipsync")     # nothing runs
    result = fix("clip.mkv", profile="kling-lipsync", output="clip.mp4")
    result.ok, result.output, result.changes, result.ssim

`fix` never modifies its input and never leaves a partial output: FFmpeg writes a temp file
beside the target (`preflight.toolchain.runner.temp_path_for`), which is probed and checked against
the same profile and moved into place only when it passes.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflight.fixing import planner
from preflight.fixing.graph import encode_args
from preflight.fixing.plan import FixOptions, FixPlan, Strategy
from preflight.fixing.verify import (
    Change,
    changes,
    check_facts,
    errors_in,
    face_verdict,
    measure_ssim,
)
from preflight.model.errors import FFmpegError, InputError, PreflightError
from preflight.model.facts import MediaFacts
from preflight.model.findings import Finding
from preflight.model.profile import Profile
from preflight.toolchain.runner import (
    TempOutput,
    cancel_all,
    has_filters,
    reset_cancel,
    run,
    run_argv,
    temp_path_for,
)

if TYPE_CHECKING:
    from preflight.checking.config import Config

__all__ = ["Attempt", "FixResult", "fix", "fix_many", "fix_pair", "plan_fix", "plan_pair"]

ProfileLike = Profile | str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One encode: the bit rates asked for (None: CRF), the bytes written, whether it passed."""

    video_bitrate: int | None
    audio_bitrate: int | None
    size_bytes: int
    passed: bool


@dataclass(frozen=True, slots=True)
class FixResult:
    """What `fix` did to one input. ``ok`` is True when the output (or the input) passes."""

    source: str
    status: str  # fixed | copied | skipped | unfixable | failed
    output: str | None = None
    message: str = ""
    plan: FixPlan | None = None
    changes: tuple[Change, ...] = ()
    ssim: float | None = None
    attempts: tuple[Attempt, ...] = ()
    findings_before: tuple[Finding, ...] = ()
    findings_after: tuple[Finding, ...] = ()
    commands: tuple[tuple[str, ...], ...] = ()
    elapsed: float = 0.0
    warnings: tuple[str, ...] = ()  # the plan's, and a quality loss measured after the encode

    @property
    def ok(self) -> bool:
        return self.status in ("fixed", "copied", "skipped")

    @property
    def encodes(self) -> int:
        """FFmpeg runs that wrote the output (a compress-to-size retry is a second one)."""
        return len(self.attempts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status,
            "ok": self.ok,
            "output": self.output,
            "message": self.message,
            "plan": self.plan.to_dict() if self.plan else None,
            "changes": [c.to_dict() for c in self.changes],
            "ssim": self.ssim,
            "encodes": self.encodes,
            "warnings": list(self.warnings),
            "attempts": [dataclasses.asdict(a) for a in self.attempts],
            "findings_before": [f.to_dict() for f in self.findings_before],
            "findings_after": [f.to_dict() for f in self.findings_after],
            "commands": [list(c) for c in self.commands],
            "elapsed": round(self.elapsed, 3),
        }


def _profile(profile: ProfileLike) -> Profile:
    if isinstance(profile, Profile):
        return profile
    from preflight.rules.profiles import load_profile

    return load_profile(profile)


def _config(config: Config | None) -> Config:
    """``config``, or the one `preflight check` would discover (``preflight.toml`` ...)."""
    from preflight.checking.config import resolve_config

    return resolve_config(config)


def _role(facts: MediaFacts, options: FixOptions) -> str:
    if options.role is not None:
        return options.role
    return "audio" if facts.video is None and facts.audio is not None else "video"


def _capabilities() -> planner.Capabilities:
    return planner.Capabilities(tonemap=has_filters("zscale", "tonemap"))


def _commands(plan: FixPlan, threads: int | None) -> FixPlan:
    if plan.target is None or plan.strategy in (Strategy.NONE, Strategy.UNFIXABLE):
        return plan
    args = encode_args(plan, temp_path_for(plan.target), threads=threads)
    return plan.with_commands([run_argv(args)])


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _make_plan(
    source: str,
    facts: MediaFacts | None,
    profile: Profile,
    options: FixOptions,
    output: str | None,
    out_dir: str | None,
    threads: int | None,
    config: Config | None,
    probe_error: str | None = None,
) -> tuple[FixPlan, list[Finding]]:
    if facts is None:
        return FixPlan(
            source=source,
            target=None,
            role="video",
            strategy=Strategy.UNFIXABLE,
            reason=probe_error or "the input could not be read",
        ), []
    findings = check_facts(facts, profile, _role(facts, options), config)
    plan = planner.plan(
        facts,
        findings,
        profile,
        options,
        source=source,
        output=output,
        out_dir=out_dir,
        capabilities=_capabilities(),
    )
    if plan.target is not None and _same_file(plan.target, source):
        plan = dataclasses.replace(
            plan,
            target=None,
            strategy=Strategy.UNFIXABLE,
            commands=(),
            reason="the output would overwrite the input; choose another -o or --out-dir",
        )
    return _commands(plan, threads), findings


def _probe(source: str) -> tuple[MediaFacts | None, str | None]:
    from preflight.probing import probe

    if source.startswith(("http://", "https://")):
        return None, "fix works on local files: download the URL first"
    try:
        return probe(source), None
    except InputError as exc:
        return None, str(exc)


def plan_fix(
    source: str | os.PathLike[str],
    *,
    profile: ProfileLike = "kling-lipsync",
    output: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    options: FixOptions | None = None,
    config: Config | None = None,
    threads: int | None = None,
    facts: MediaFacts | None = None,
) -> FixPlan:
    """The plan `fix` would carry out for ``source``, with the exact FFmpeg argv in ``commands``.

    Probes the input (unless ``facts`` are given) and checks it; runs no FFmpeg.
    """
    src = os.fspath(source)
    config = _config(config)
    error = None
    if facts is None:
        facts, error = _probe(src)
    plan, _ = _make_plan(
        src,
        facts,
        _profile(profile),
        options or FixOptions(),
        None if output is None else os.fspath(output),
        None if out_dir is None else os.fspath(out_dir),
        threads,
        config,
        error,
    )
    return plan


def _timeout(options: FixOptions, duration: float | None) -> float:
    if options.timeout is not None:
        return options.timeout
    return 300.0 + 60.0 * (duration or 60.0)


def fix(
    source: str | os.PathLike[str],
    *,
    profile: ProfileLike = "kling-lipsync",
    output: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    options: FixOptions | None = None,
    config: Config | None = None,
    threads: int | None = None,
    show_progress: bool = False,
) -> FixResult:
    """Make ``source`` pass ``profile`` with the cheapest FFmpeg operation, and prove it.

    Returns a `FixResult` (never raises for a bad input: ``status`` is ``unfixable`` or
    ``failed`` with the reason). KeyboardInterrupt propagates after the temp output is removed.
    The profile's face rules are part of the proof (``FixOptions(face=False)`` skips them, as
    ``check --no-face`` does): an input whose picture fails them is ``unfixable`` before anything
    is written when the fix keeps every frame (none, copy, remux), and a re-encoded output that
    fails them is never moved into place.
    """
    started = time.monotonic()
    src = os.fspath(source)
    options = options or FixOptions()
    config = _config(config)
    prof = _profile(profile)
    facts, error = _probe(src)
    plan, before = _make_plan(
        src,
        facts,
        prof,
        options,
        None if output is None else os.fspath(output),
        None if out_dir is None else os.fspath(out_dir),
        threads,
        config,
        error,
    )
    base = FixResult(
        source=src,
        status="failed",
        plan=plan,
        findings_before=tuple(before),
        warnings=plan.warnings,
    )
    if plan.strategy is Strategy.UNFIXABLE or facts is None:
        return dataclasses.replace(
            base, status="unfixable", message=plan.reason, elapsed=time.monotonic() - started
        )
    keeps_frames = plan.strategy in (Strategy.NONE, Strategy.REMUX)  # every frame as it is
    if options.face and keeps_frames:
        faces = face_verdict(facts, prof, plan.role, config)  # judged before anything is spent
        if errors_in(faces):
            return dataclasses.replace(
                base,
                status="unfixable",
                message=_face_reason(faces),
                findings_before=(*before, *faces),
                elapsed=time.monotonic() - started,
            )
    if plan.strategy is Strategy.NONE:
        if plan.target is None:
            return dataclasses.replace(
                base, status="skipped", message=plan.reason, elapsed=time.monotonic() - started
            )
        with TempOutput(plan.target) as tmp:
            shutil.copyfile(src, tmp.path)
            tmp.commit()
        return dataclasses.replace(
            base,
            status="copied",
            output=plan.target,
            message=f"{plan.reason}: copied byte for byte",
            elapsed=time.monotonic() - started,
        )
    try:
        return _encode(base, plan, facts, prof, options, config, threads, show_progress, started)
    except FFmpegError as exc:
        return dataclasses.replace(
            base, status="failed", message=str(exc), elapsed=time.monotonic() - started
        )
    except InputError as exc:
        return dataclasses.replace(
            base,
            status="failed",
            message=f"the output could not be read back: {exc}",
            elapsed=time.monotonic() - started,
        )


def _encode(
    base: FixResult,
    plan: FixPlan,
    facts: MediaFacts,
    profile: Profile,
    options: FixOptions,
    config: Config | None,
    threads: int | None,
    show_progress: bool,
    started: float,
) -> FixResult:
    assert plan.target is not None
    role = plan.role
    with TempOutput(plan.target) as tmp:
        tries = _attempts(plan, tmp.path, facts, profile, options, config, threads, show_progress)
        current, after, found = tries.current, tries.after, tries.found
        attempts, commands = tries.attempts, tries.commands
        errors = errors_in(found)
        if errors:
            why = "; ".join(f"{f.rule}: {f.message}" for f in errors)
            return dataclasses.replace(
                base,
                status="failed",
                message=f"the output still fails: {why} (nothing written)",
                findings_after=tuple(found),
                attempts=tuple(attempts),
                commands=tuple(commands),
                elapsed=time.monotonic() - started,
            )
        # a remux keeps every frame: its input was judged before the run (see `fix`)
        judged = not options.face or plan.strategy is Strategy.REMUX
        faces = [] if judged else face_verdict(after, profile, role, config)
        found = [*found, *faces]
        if errors_in(faces):  # the one verdict: what check would fail is never written
            return dataclasses.replace(
                base,
                status="unfixable",
                message=f"{_face_reason(faces)} (nothing written)",
                findings_after=tuple(found),
                attempts=tuple(attempts),
                commands=tuple(commands),
                elapsed=time.monotonic() - started,
            )
        ssim = (
            measure_ssim(current, tmp.path, threads=threads)
            if options.quality and role == "video"
            else None
        )
        tmp.commit()
    warnings = base.warnings + _quality_warnings(ssim, options)
    moved = changes(facts, after)
    how = {"remux": "remuxed", "reencode": "re-encoded", "audio": "converted"}[plan.strategy.value]
    message = f"{how} in {len(attempts)} pass{'es' if len(attempts) > 1 else ''}"
    return dataclasses.replace(
        base,
        status="fixed",
        output=plan.target,
        message=message,
        changes=tuple(moved),
        ssim=ssim,
        attempts=tuple(attempts),
        findings_after=tuple(found),
        commands=tuple(commands),
        elapsed=time.monotonic() - started,
        warnings=warnings,
    )


@dataclass(frozen=True, slots=True)
class _Tries:
    """The encodes of one fix: the last plan run, what its output is, and every attempt."""

    current: FixPlan
    after: MediaFacts
    found: list[Finding]
    attempts: list[Attempt]
    commands: list[tuple[str, ...]]


def _attempts(
    plan: FixPlan,
    out: Path,
    facts: MediaFacts,
    profile: Profile,
    options: FixOptions,
    config: Config | None,
    threads: int | None,
    show_progress: bool,
) -> _Tries:
    """Encode into ``out`` until the output passes (a size retry at most ``max_attempts``)."""
    from preflight.probing import probe

    attempts: list[Attempt] = []
    commands: list[tuple[str, ...]] = []
    current, bitrate = plan, None
    duration = plan.duration or facts.effective_duration
    while True:
        args = encode_args(current, out, video_bitrate=bitrate, threads=threads)
        result = run(
            args,
            duration=duration,
            timeout=_timeout(options, duration),
            show_progress=show_progress,
            label=Path(plan.source).name,
        )
        commands.append(result.argv)
        size = out.stat().st_size
        after = probe(out)
        found = check_facts(after, profile, plan.role, config)
        errors = errors_in(found)
        asked = (
            bitrate
            if bitrate is not None
            else (current.video.bitrate if current.video and current.compress else None)
        )
        attempts.append(
            Attempt(asked, current.audio.bitrate if current.audio else None, size, not errors)
        )
        retry = None if not errors else _lower(current, bitrate, size, after)
        if retry is None or len(attempts) >= max(1, options.max_attempts):
            return _Tries(current, after, found, attempts, commands)
        current, bitrate = retry


def _quality_warnings(ssim: float | None, options: FixOptions) -> tuple[str, ...]:
    """A warning when the re-encode scored below ``options.min_ssim`` against the source."""
    if ssim is None or ssim >= options.min_ssim:
        return ()
    return (
        f"SSIM {ssim:.3f} against the source is below {options.min_ssim:g}: the re-encode "
        "lost visible detail (a tight size limit or a picture that hardly compresses)",
    )


def _face_reason(faces: list[Finding]) -> str:
    why = "; ".join(f"{f.rule}: {f.message}" for f in errors_in(faces))
    return f"{why}: the fixer cannot change what the picture shows"


def _lower(
    plan: FixPlan, bitrate: int | None, size: int, after: MediaFacts
) -> tuple[FixPlan, int | None] | None:
    """A cheaper retry when the output is over its byte limit, else None (nothing more to try)."""
    limit = plan.size_limit
    if limit is None or size <= limit:
        return None
    scale = limit * planner.SIZE_SAFETY / size
    if plan.role == "video" and plan.video is not None and plan.video.codec != "copy":
        return plan, _lower_video(plan, bitrate, size, after, scale)
    if plan.role == "audio" and plan.audio is not None and plan.audio.bitrate:
        lower = max(8_000, int(plan.audio.bitrate * scale))
        return dataclasses.replace(plan, audio=dataclasses.replace(plan.audio, bitrate=lower)), None
    return None


def _lower_video(
    plan: FixPlan, bitrate: int | None, size: int, after: MediaFacts, scale: float
) -> int:
    """The video bit rate of the next try: what the last one measured, scaled to the limit."""
    assert plan.video is not None
    duration = after.effective_duration or plan.duration or 1.0
    audio = after.audio.bit_rate if after.audio and after.audio.bit_rate else 0
    measured = after.video.bit_rate if after.video and after.video.bit_rate else None
    measured = measured or max(1, int(size * 8 / duration - audio))
    asked = bitrate or plan.video.bitrate or measured
    return max(50_000, int(min(asked, measured) * scale))


def fix_many(
    sources: Sequence[str | os.PathLike[str]],
    *,
    jobs: int | None = None,
    on_done: Callable[[FixResult], None] | None = None,
    **kwargs: Any,
) -> list[FixResult]:
    """`fix` every source, ``jobs`` at a time (default: the machine's cores), results in order.

    One bad input never stops the rest. Ctrl-C kills every running FFmpeg, waits for each
    worker to remove its temp file, and re-raises KeyboardInterrupt.
    """
    workers = max(1, jobs or os.cpu_count() or 1)
    clashes = _clashes(sources, kwargs.get("out_dir"))
    if workers == 1 or len(sources) == 1:
        results = []
        for src in sources:
            results.append(clashes.get(os.fspath(src)) or _safe_fix(src, kwargs))
            if on_done is not None:
                on_done(results[-1])
        return results
    # Each FFmpeg keeps its own thread count (auto): pinning it to cores/workers left cores idle
    # whenever a worker was probing, verifying or measuring SSIM (about 1.4 of 2 cores busy);
    # letting every encoder use all cores fills those gaps, and the oversubscription costs little.
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fix")
    try:
        futures = [pool.submit(_clash_or_fix, src, kwargs, clashes) for src in sources]
        for future in concurrent.futures.as_completed(futures):
            if on_done is not None:
                on_done(future.result())
        return [f.result() for f in futures]
    except KeyboardInterrupt:
        cancel_all()
        pool.shutdown(wait=True, cancel_futures=True)  # each worker removes its temp file
        reset_cancel()
        raise
    finally:
        pool.shutdown(wait=True)


def _clashes(sources: Sequence[str | os.PathLike[str]], out_dir: Any) -> dict[str, FixResult]:
    """Inputs whose output name another input of the batch already claims.

    ``a.mkv`` and ``a.avi`` both become ``a.mp4`` in ``out_dir``; beside themselves, ``a.mkv`` and
    ``a.mp4`` in one folder both become ``a.fixed.mp4``. The first keeps the name; the others
    fail with the reason instead of overwriting it (or racing it for the same temp file).
    """
    first: dict[tuple[str, str], str] = {}
    clashes: dict[str, FixResult] = {}
    for src in sources:
        name = os.fspath(src)
        path = Path(name)
        folder = os.path.abspath(out_dir if out_dir is not None else path.parent)
        key = (folder, path.stem)
        if key in first and first[key] != name:
            clashes[name] = FixResult(
                source=name,
                status="failed",
                message=f"{first[key]} writes the same output name in {folder}; "
                "fix it separately with -o",
            )
        first.setdefault(key, name)
    return clashes


def _clash_or_fix(
    source: str | os.PathLike[str], kwargs: dict[str, Any], clashes: dict[str, FixResult]
) -> FixResult:
    return clashes.get(os.fspath(source)) or _safe_fix(source, kwargs)


def _safe_fix(source: str | os.PathLike[str], kwargs: dict[str, Any]) -> FixResult:
    try:
        return fix(source, **kwargs)
    except PreflightError as exc:
        return FixResult(source=os.fspath(source), status="failed", message=str(exc))
    except OSError as exc:
        return FixResult(source=os.fspath(source), status="failed", message=f"{exc}")


def fix_pair(
    video: str | os.PathLike[str],
    audio: str | os.PathLike[str],
    *,
    profile: ProfileLike = "kling-lipsync",
    output: str | os.PathLike[str] | None = None,
    audio_output: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    options: FixOptions | None = None,
    config: Config | None = None,
    show_progress: bool = False,
) -> tuple[FixResult, FixResult]:
    """Fix an audio2video pair so the two are as long as each other (``--fit-audio --audio``).

    An audio longer than the video lengthens the video to it (freeze or loop, within the
    profile's maximum); then the audio is trimmed or padded with silence to the video's final
    length. Each output is verified against the profile like `fix`.
    """
    from preflight.probing import probe

    options = options or FixOptions()
    prof = _profile(profile)
    vsrc, asrc = os.fspath(video), os.fspath(audio)
    sound, error = _probe(asrc)
    if sound is None or sound.audio is None:
        why = error or "it has no audio stream"
        bad = FixResult(source=asrc, status="unfixable", message=f"the audio cannot be used: {why}")
        return FixResult(source=vsrc, status="failed", message="its audio is unusable"), bad
    length = sound.audio.duration if sound.audio.duration is not None else sound.duration
    vopts = dataclasses.replace(options, min_duration=length, fit_audio=False)
    vres = fix(
        vsrc,
        profile=prof,
        output=output,
        out_dir=out_dir,
        options=vopts,
        config=config,
        show_progress=show_progress,
    )
    if not vres.ok:
        return vres, FixResult(source=asrc, status="failed", message="the video could not be fixed")
    final = probe(vres.output or vsrc).effective_duration
    aopts = dataclasses.replace(options, fit_to=final, fit_audio=False, role="audio")
    ares = fix(
        asrc,
        profile=prof,
        output=audio_output,
        out_dir=out_dir,
        options=aopts,
        config=config,
        show_progress=show_progress,
    )
    return vres, ares


def plan_pair(
    video: str | os.PathLike[str],
    audio: str | os.PathLike[str],
    *,
    profile: ProfileLike = "kling-lipsync",
    output: str | os.PathLike[str] | None = None,
    audio_output: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    options: FixOptions | None = None,
    config: Config | None = None,
) -> tuple[FixPlan, FixPlan]:
    """The two plans `fix_pair` would carry out (nothing runs)."""
    options = options or FixOptions()
    prof = _profile(profile)
    sound, _ = _probe(os.fspath(audio))
    length = None
    if sound is not None and sound.audio is not None:
        length = sound.audio.duration if sound.audio.duration is not None else sound.duration
    vopts = dataclasses.replace(options, min_duration=length, fit_audio=False)
    facts, _ = _probe(os.fspath(video))
    vplan = (
        plan_fix(
            video,
            profile=prof,
            output=output,
            out_dir=out_dir,
            options=vopts,
            config=config,
            facts=facts,
        )
        if facts
        else plan_fix(video, profile=prof)
    )
    final = (
        vplan.duration
        if vplan.duration is not None
        else (facts.effective_duration if facts else None)
    )
    aopts = dataclasses.replace(options, fit_to=final, fit_audio=False, role="audio")
    aplan = (
        plan_fix(
            audio,
            profile=prof,
            output=audio_output,
            out_dir=out_dir,
            options=aopts,
            config=config,
            facts=sound,
        )
        if sound
        else plan_fix(audio, profile=prof)
    )
    return vplan, aplan
