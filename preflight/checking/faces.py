"""Glue between a check run and the face analysis: when to run it, and what to attach to a job.

`preflight.check` calls `face_settings` once per run and, only when some face rule is enabled,
`with_face_analysis` per job: the analysis runs only for jobs with a video stream, and imports
OpenCV only then. A URL is analysed from a temporary copy fetched under the same size and time
caps the probe uses (`fetch_copy`), so a URL is judged like the file it names. Any problem
(extra missing, video undecodable, a URL that cannot be fetched) becomes a `FaceSkipped` reason
that the face rules report as an info finding.

Decoding and analysing frames costs far more than everything else a check does, so it is not
spent where its answer cannot matter: `unusable` names an error no fix mends (no audio stream in
the job's audio, a duration that cannot be read, a job field the provider refuses), and the
check then records the skip instead (``force_face`` / ``--face`` analyses anyway). A *fixable*
error (too short, too large, wrong container) keeps the face checks: whether the clip shows a
usable face is what says if fixing it is worth an encode and a paid job.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from preflight.model.errors import FFmpegError, InputError
from preflight.model.findings import Severity
from preflight.model.job import Job
from preflight.model.sources import is_url
from preflight.vision import DEFAULT_RATE, available

if TYPE_CHECKING:  # analysis, detector and sampler load only when a face check really runs
    from preflight.checking.config import Config
    from preflight.model.profile import Profile
    from preflight.report.model import Timeline
    from preflight.vision.analysis import FaceAnalysis, FaceSkipped

__all__ = [
    "FACE_RULES",
    "face_settings",
    "face_timeline",
    "fetch_copy",
    "preview_path",
    "unusable",
    "with_face_analysis",
]

FACE_RULES = (
    "face.present",
    "face.count",
    "face.size",
    "face.pose",
    "face.mouth",
    "face.lighting",
    "face.sharpness",
    "face.stability",
)


def face_settings(profile: Profile, config: Config | None = None) -> dict[str, Mapping[str, Any]]:
    """The enabled face rules of ``profile`` (as ``config`` leaves them) and their parameters:
    those `evaluate` runs, from its plan (worked out once per profile and config)."""
    from preflight.checking.evaluate import enabled_params

    enabled = enabled_params(profile, config)
    return {rule_id: enabled[rule_id] for rule_id in FACE_RULES if rule_id in enabled}


def unusable(job: Job, profile: Profile, config: Config | None = None) -> str | None:
    """Why face checks on ``job`` cannot change what happens to it, or None when they can.

    That is so when, before any face analysis, an error-level finding of another rule is not
    fixable: the job fails whatever the frames show, and no fix will make it pass. The answer
    is the reason the face rules report (as an info finding) in place of their verdict.
    """
    from preflight.checking.evaluate import evaluate

    for finding in evaluate(job, profile, config):
        if finding.severity is not Severity.ERROR:
            break  # errors come first
        if not finding.fixable and finding.rule not in FACE_RULES:
            return f"the job already fails {finding.rule}, which no fix mends (--face runs them)"
    return None


def preview_path(base: str | os.PathLike[str], index: int, count: int) -> str:
    """Where the contact sheet of the ``index``-th of ``count`` videos goes (``out-2.png``)."""
    path = os.fspath(base)
    if count <= 1:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}-{index + 1}{ext or '.png'}"


def with_face_analysis(
    job: Job,
    settings: Mapping[str, Mapping[str, Any]],
    *,
    enabled: bool = True,
    skip: str | None = None,
    rate: float = DEFAULT_RATE,
    preview: str | os.PathLike[str] | None = None,
) -> Job:
    """``job`` with ``analysis["face"]`` set, for the face rules in ``settings`` (`face_settings`).

    The contact sheet written to ``preview`` marks the samples that fail them. With ``skip`` the
    analysis records that reason instead of running (the rules report it as skipped). Jobs
    without a video stream, any job when ``settings`` is empty, and every job when ``enabled`` is
    False (``--no-face``: the user turned the face rules off, as a config switch would) come back
    unchanged: the face rules then have nothing to judge and say nothing.
    """
    if not enabled:
        return job
    result = _result(job, settings, skip=skip, preview=preview, rate=rate)
    if result is None:
        return job
    return replace(job, analysis={**job.analysis, "face": result})


def _result(
    job: Job,
    settings: Mapping[str, Mapping[str, Any]],
    *,
    skip: str | None,
    preview: str | os.PathLike[str] | None,
    rate: float,
) -> FaceAnalysis | FaceSkipped | None:
    facts = job.video
    if facts is None or facts.video is None or not settings:
        return None
    from preflight.vision.analysis import FaceSkipped

    if skip is not None:
        return FaceSkipped(f"face checks skipped: {skip}")
    if not available():
        from preflight.rules.face import SKIPPED

        return FaceSkipped(SKIPPED)
    if is_url(facts.source):
        try:
            with fetch_copy(facts.source) as local:
                return _analyse(job, settings, rate=rate, preview=preview, path=local)
        except InputError as exc:
            return FaceSkipped(f"face checks skipped: the video URL could not be fetched ({exc})")
    return _analyse(job, settings, rate=rate, preview=preview)


@contextlib.contextmanager
def fetch_copy(url: str) -> Iterator[str]:
    """A temporary local copy of ``url``, fetched under the probe's caps (`PREFLIGHT_MAX_DOWNLOAD_
    BYTES`, and its overall deadline: ``--url-timeout``/`PREFLIGHT_URL_TIMEOUT`, so a server that
    drips a byte at a time cannot hold the check), removed on exit. Raises `InputError` when it
    cannot be fetched."""
    import tempfile  # with shutil, bz2, lzma: only a URL's face check needs it

    import httpx

    from preflight.client.deadline import Deadline, deadline_client, fetch_problem
    from preflight.probing._remote import TIMEOUT_S, max_download_bytes, url_timeout

    cap = max_download_bytes()
    deadline = Deadline(url_timeout())
    suffix = os.path.splitext(url.split("?", 1)[0])[1][:8] or ".bin"
    with tempfile.TemporaryDirectory(prefix="preflight-face-") as folder:
        path = os.path.join(folder, f"video{suffix}")
        try:
            with (
                deadline_client(deadline, read_timeout=TIMEOUT_S) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise InputError(f"HTTP {response.status_code}", source=url)
                size = 0
                with open(path, "wb") as out:
                    for chunk in response.iter_bytes():
                        deadline.check()
                        size += len(chunk)
                        if size > cap:
                            raise InputError(
                                f"larger than the {cap}-byte download limit "
                                "(PREFLIGHT_MAX_DOWNLOAD_BYTES)",
                                source=url,
                            )
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise InputError(fetch_problem(exc, deadline), source=url) from exc
        yield path


def _identity(path: str) -> tuple[int, int, int, int] | None:
    """What says a local file is unchanged (device, inode, size, mtime), or None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _analysed(
    source: str,
    identity: tuple[int, int, int, int],
    width: int,
    height: int,
    duration: float | None,
    rate: float,
) -> FaceAnalysis:
    """One analysis per unchanged file and sampling: `submit` judges its input before and after
    a fix, and `check --fix` before `fix` does; decoding frames again would only cost time.
    The measurements do not depend on the rules' thresholds, so any settings share it."""
    from preflight.vision.analysis import analyse_with_frames

    del identity  # part of the key only
    analysis, _ = analyse_with_frames(
        source, width, height, duration=duration, rate=rate, keep=False
    )
    return analysis


def _analyse(
    job: Job,
    settings: Mapping[str, Mapping[str, Any]],
    *,
    rate: float,
    preview: str | os.PathLike[str] | None,
    path: str | None = None,
) -> FaceAnalysis | FaceSkipped:
    from preflight.vision.analysis import FaceSkipped, analyse_with_frames
    from preflight.vision.detector import VisionUnavailableError

    facts = job.video
    assert facts is not None
    stream = facts.video
    assert stream is not None
    if not stream.width or not stream.height:
        return FaceSkipped("face checks skipped: the video's display size is unknown")
    identity = _identity(path or facts.source) if preview is None and path is None else None
    try:
        if identity is not None:  # the same unchanged file, judged again (submit re-checks)
            w, h, duration = stream.width, stream.height, facts.effective_duration
            return _analysed(facts.source, identity, w, h, duration, rate)
        analysis, frames = analyse_with_frames(
            path or facts.source,
            stream.width,
            stream.height,
            duration=facts.effective_duration,
            rate=rate,
            keep=preview is not None,
        )
    except FFmpegError as exc:
        first = str(exc).splitlines()[0]
        return FaceSkipped(f"face checks skipped: frames could not be decoded ({first})")
    except VisionUnavailableError as exc:
        return FaceSkipped(f"face checks skipped: {exc}")
    if preview is not None:
        from preflight.rules.face import sample_failures
        from preflight.vision.contact_sheet import write_contact_sheet

        write_contact_sheet(analysis, frames, sample_failures(analysis, settings), preview)
    return analysis


def face_timeline(job: Job, settings: Mapping[str, Mapping[str, Any]]) -> Timeline | None:
    """Per face rule, the spans of ``job``'s clip that pass, fail, or have no face to judge
    (``none``; `face.present` has no such span: no face is its failure). None without analysis.

    Sample ``i`` stands for ``[t_i, t_i + interval)``, as in the findings' ranges; neighbouring
    samples with the same verdict merge into one span, so a clip is a handful of bars.
    """
    from preflight.report.model import Timeline

    analysis = job.analysis.get("face")
    if analysis is None or not settings or not hasattr(analysis, "samples"):
        return None
    if not analysis.samples:
        return Timeline(duration=analysis.duration)
    from preflight.rules.face import failing, runs

    tracks: dict[str, tuple[tuple[float, float, str], ...]] = {}
    for rule_id, params in settings.items():
        flags = failing(rule_id, analysis, params)
        states = [
            "fail" if bad else "none" if rule_id != "face.present" and not s.faces else "pass"
            for bad, s in zip(flags, analysis.samples, strict=True)
        ]
        spans: list[tuple[float, float, str]] = []
        for state in ("pass", "fail", "none"):
            for first, last in runs([s == state for s in states]):
                start, end = analysis.span(first, last)
                spans.append((start, end, state))
        tracks[rule_id] = tuple(sorted(spans))
    return Timeline(duration=analysis.duration, tracks=tracks)
