"""Face rules: one clear, large-enough, frontal, well-lit, sharp, steady face with a visible mouth.

They read the per-sample measurements that `preflight.vision` puts into ``job.analysis["face"]``
and do no I/O themselves. Each finding names the time ranges where it fails: a sample at ``t``
stands for ``[t, t + interval)``. Stretches shorter than a rule's ``tolerance`` (seconds) are
taken as detector noise and ignored. When no analysis could run (no vision extra, or face checks
turned off) every face rule reports an info finding saying it was skipped: never a silent pass.

`failing` gives the per-sample verdict of each rule; ``--face-window`` uses it too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from preflight.model.findings import Severity
from preflight.model.job import Job
from preflight.rules.base import Param, ParamType, Rule, Violation, fmt_num
from preflight.vision import INSTALL_HINT
from preflight.vision.landmarks import mouth_problem

if TYPE_CHECKING:  # the analysis module pulls in the sampler and FFmpeg runner: load on use
    from preflight.vision.analysis import FaceAnalysis, FaceBox, FaceSample

__all__ = ["RULES", "SKIPPED", "failing", "planned_scale", "runs", "sample_failures"]

SKIPPED = f"face checks skipped: {INSTALL_HINT}"

Span = tuple[float, float]


def _tolerance(default: float) -> Param:
    return Param(
        ParamType.NUMBER, default, "seconds: shorter failing stretches are ignored as noise"
    )


def _analysis(job: Job) -> FaceAnalysis | str | None:
    """The job's face analysis; a reason string when it was skipped; None when not applicable.

    A job nobody analysed (no ``"face"`` key: facts built by hand, or a job without a video
    stream) is not judged at all; `preflight.check` always attaches an analysis or a reason.
    """
    if job.video is None or job.video.video is None:
        return None
    found = job.analysis.get("face")
    if found is None:
        return None
    from preflight.vision.analysis import FaceAnalysis, FaceSkipped

    if isinstance(found, FaceAnalysis):
        return found
    if isinstance(found, FaceSkipped):
        return found.reason
    return None


def _skipped(reason: str) -> Violation:
    return Violation(reason, "skipped", None, False, (), Severity.INFO)


# --- per-sample verdicts -------------------------------------------------------------------


def _no_face(a: FaceAnalysis, s: FaceSample, p: Mapping[str, Any]) -> bool:
    return s.face is None


def _counted(s: FaceSample, p: Mapping[str, Any]) -> int:
    """Faces at least ``min_ratio`` of the largest one's side (smaller ones are background)."""
    if s.face is None:
        return 0
    floor = float(p.get("min_ratio", 0.0)) * s.face.side
    return sum(1 for f in s.faces if f.side >= floor)


def _too_many(a: FaceAnalysis, s: FaceSample, p: Mapping[str, Any]) -> bool:
    return _counted(s, p) > int(p.get("max", 1))


def planned_scale(a: FaceAnalysis, p: Mapping[str, Any]) -> float:
    """The factor the fixer will scale the video by to bring both sides into the ``frame_min``
    .. ``frame_max`` window (1.0 without one, or when the size already fits)."""
    lo, hi = p.get("frame_min"), p.get("frame_max")
    if lo is None and hi is None:
        return 1.0
    # the fixer's arithmetic (fixing.geometry.fit_window), which rules must not import: the
    # factor closest to 1 that fits both sides, else the one that fits the maxima (padding)
    w, h = a.width, a.height
    s_lo = max(lo / w, lo / h) if lo else 0.0
    s_hi = min(hi / w, hi / h) if hi else math.inf
    if s_lo <= s_hi + 1e-9:
        return float(min(max(1.0, s_lo), s_hi))
    return float(s_hi)


def _too_small(a: FaceAnalysis, s: FaceSample, p: Mapping[str, Any]) -> bool:
    face = s.face
    if face is None:
        return False
    side = face.side * planned_scale(a, p)
    return side < float(p.get("min_px", 0)) or a.share(face) < float(p.get("min_share", 0))


def _turned(a: FaceAnalysis, s: FaceSample, p: Mapping[str, Any]) -> bool:
    return s.yaw is not None and abs(s.yaw) > float(p.get("max_yaw", 90))


def _mouth_issue(a: FaceAnalysis, s: FaceSample, p: Mapping[str, Any]) -> str | None:
    """Why the largest face's mouth is not usable in sample ``s``, or None."""
    face = s.face
    if face is None or not face.landmarks:
        return None
    problem = mouth_problem(face.landmarks, face.rect, a.width, a.height)
    if problem is not None:
        return problem
    if s.mouth_detail is not None and s.mouth_detail < float(p.get("min_detail", 0)):
        return "covered or blurred"
    return None


def _mouth_hidden(a: FaceAnalysis, s: FaceSample, p: Mapping[str, Any]) -> bool:
    return _mouth_issue(a, s, p) is not None


def _too_dark(a: FaceAnalysis, s: FaceSample, p: Mapping[str, Any]) -> bool:
    return s.luma is not None and s.luma < p.get("min_luma", 0)


def _too_bright(a: FaceAnalysis, s: FaceSample, p: Mapping[str, Any]) -> bool:
    return s.luma is not None and s.luma > p.get("max_luma", 255)


def _flat(a: FaceAnalysis, s: FaceSample, p: Mapping[str, Any]) -> bool:
    return s.contrast is not None and s.contrast < p.get("min_contrast", 0)


def _badly_lit(a: FaceAnalysis, s: FaceSample, p: Mapping[str, Any]) -> bool:
    return _too_dark(a, s, p) or _too_bright(a, s, p) or _flat(a, s, p)


def _blurred(a: FaceAnalysis, s: FaceSample, p: Mapping[str, Any]) -> bool:
    return s.sharpness is not None and s.sharpness < p.get("min", 0)


def _moves(a: FaceAnalysis, s: FaceSample, p: Mapping[str, Any]) -> bool:
    if s.shift is None or s.size_change is None:
        return False
    shift_limit = float(p.get("max_shift", math.inf)) * a.interval
    size_limit = float(p.get("max_size_change", math.inf)) * a.interval
    return s.shift > shift_limit or s.size_change > size_limit


Verdict = Callable[["FaceAnalysis", "FaceSample", Mapping[str, Any]], bool]

_VERDICTS: dict[str, Verdict] = {
    "face.present": _no_face,
    "face.count": _too_many,
    "face.size": _too_small,
    "face.pose": _turned,
    "face.mouth": _mouth_hidden,
    "face.lighting": _badly_lit,
    "face.sharpness": _blurred,
    "face.stability": _moves,
}


def failing(rule_id: str, analysis: FaceAnalysis, params: Mapping[str, Any]) -> list[bool]:
    """Per sample: does it fail ``rule_id`` under ``params``? (``face.stability`` at sample ``i``
    judges the movement from sample ``i - 1``.)"""
    verdict = _VERDICTS[rule_id]
    return [verdict(analysis, s, params) for s in analysis.samples]


def sample_failures(
    analysis: FaceAnalysis, settings: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, ...]]:
    """Per sample, the ids of the rules in ``settings`` (rule id -> params) that it fails."""
    verdicts = {rule_id: failing(rule_id, analysis, p) for rule_id, p in settings.items()}
    return [
        tuple(rule_id for rule_id, flags in verdicts.items() if flags[i])
        for i in range(len(analysis.samples))
    ]


def runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """Stretches of consecutive True flags as (first, last) sample indices, inclusive."""
    found: list[tuple[int, int]] = []
    start: int | None = None
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            found.append((start, i - 1))
            start = None
    if start is not None:
        found.append((start, len(flags) - 1))
    return found


def _spans(a: FaceAnalysis, flags: Sequence[bool], tolerance: float) -> tuple[Span, ...]:
    """Time ranges of failing stretches that last at least ``tolerance`` seconds."""
    spans = [a.span(first, last) for first, last in runs(flags)]
    return tuple(s for s in spans if s[1] - s[0] >= tolerance - 1e-9)


def _at(spans: Sequence[Span]) -> str:
    shown = [f"{fmt_num(start)}–{fmt_num(end)} s" for start, end in spans[:4]]
    more = f" and {len(spans) - 4} more" if len(spans) > 4 else ""
    return ", ".join(shown) + more


def _seconds(spans: Sequence[Span]) -> float:
    return round(sum(end - start for start, end in spans), 3)


def _family(job: Job, check: Callable[[FaceAnalysis], Iterator[Violation]]) -> Iterator[Violation]:
    found = _analysis(job)
    if found is None:
        return
    if isinstance(found, str):
        yield _skipped(found)
        return
    yield from check(found)


# --- the rules -----------------------------------------------------------------------------


def check_present(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """A face must be visible in the video, with no long stretch without one.

    At least ``min_share`` of the sampled frames must show a face, and no stretch without one may
    last ``tolerance`` seconds or more.

    The provider rejects videos with no person in them ("there is no human in the video"), and
    lip-sync cannot move a mouth it cannot see. The finding lists the time ranges with no face.
    ``preflight fix --face-window`` can trim to the longest stretch where every face rule passes.
    """

    def check(a: FaceAnalysis) -> Iterator[Violation]:
        flags = failing("face.present", a, params)
        if not flags:
            yield Violation(
                "no frames could be sampled from the video", 0.0, params.get("min_share")
            )
            return
        share = round(1 - sum(flags) / len(flags), 3)
        spans = _spans(a, flags, params.get("tolerance", 0.0))
        low_share = share < params.get("min_share", 0.0)
        if low_share and not spans:
            spans = _spans(a, flags, 0.0)
        if not spans and not low_share:
            return
        what = (
            "no face in any sampled frame"
            if share == 0
            else (
                f"no face for {fmt_num(_seconds(spans))} s ({share:.0%} of sampled frames show one)"
            )
        )
        hint = " (`preflight fix --face-window` trims to the best stretch)" if share > 0 else ""
        yield Violation(f"{what}: {_at(spans)}{hint}", share, params.get("min_share"), False, spans)

    yield from _family(job, check)


def _where(a: FaceAnalysis, face: FaceBox) -> str:
    """Where a face is in the frame, in words: left, centre or right (by its centre)."""
    cx, _ = face.centre
    third = a.width / 3
    return "left" if cx < third else "right" if cx > 2 * third else "centre"


def _tied(s: FaceSample) -> bool:
    """The two largest faces of a sample are within 10% of each other's side."""
    sides = sorted((f.side for f in s.faces), reverse=True)
    return len(sides) >= 2 and sides[1] >= 0.9 * sides[0]


def check_count(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """At most ``max`` faces may be visible at once (default 1).

    The finding names the face the provider will use. Only faces at least ``min_ratio`` of the
    largest face's side are counted: smaller ones are background. Lip-sync services animate the
    largest face when there are several (LatentSync, Vozo; Vozo fails with "too many face
    tracks"); Kling's one-step endpoint animates one person and does not say which. Knowing which
    face that will be (the largest, and where), you can crop to the one you want. Kling's
    two-step endpoint lets you choose a face.
    """

    def check(a: FaceAnalysis) -> Iterator[Violation]:
        flags = failing("face.count", a, params)
        spans = _spans(a, flags, params.get("tolerance", 0.0))
        if not spans:
            return
        crowded = [s for s, f in zip(a.samples, flags, strict=True) if f]
        most = max(_counted(s, params) for s in crowded)
        largest = max((f for s in crowded for f in s.faces), key=lambda f: f.side)
        which = f"the largest, {round(largest.side)} px at the {_where(a, largest)} of the frame"
        if any(_tied(s) for s in crowded):
            which += " (another face is about as large: it may pick either; crop to one)"
        limit = int(params.get("max", 1))
        yield Violation(
            f"{most} faces in view (at most {limit} allowed); the provider will use {which}: "
            f"{_at(spans)}",
            most,
            limit,
            False,
            spans,
        )

    yield from _family(job, check)


def check_size(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The face must be large enough to re-animate, at the size it will be sent.

    Its shorter side must be at least ``min_px`` pixels after the planned scale and at least
    ``min_share`` of the frame's shorter side. The planned scale is the one the fixer applies to
    bring both sides of the frame into ``frame_min`` .. ``frame_max`` (the profile's frame size
    limits): a 4K video is sent at half size, so its faces are judged at half size too.

    A mouth a few pixels wide cannot be re-animated convincingly: LatentSync drops faces under
    50x80 px and trains on 256 px faces; sync.so works on faces scaled to 512x512. The size is
    the detector's box (brows to chin, about the face's width). A small face is reported here,
    not as a missing one: `face.present` fails only when no face is found at any size.
    """

    def check(a: FaceAnalysis) -> Iterator[Violation]:
        flags = failing("face.size", a, params)
        spans = _spans(a, flags, params.get("tolerance", 0.0))
        if not spans:
            return
        sides = [s.face.side for s, f in zip(a.samples, flags, strict=True) if f and s.face]
        factor = planned_scale(a, params)
        smallest = round(min(sides) * factor)
        share = min(sides) / min(a.width, a.height)
        min_px, min_share = params.get("min_px", 0), params.get("min_share", 0)
        scaled = ""
        if abs(factor - 1.0) > 1e-6:
            w, h = round(a.width * factor), round(a.height * factor)
            scaled = (
                f" once scaled to about {w}x{h} ({round(min(sides))} px in the "
                f"{a.width}x{a.height} video)"
            )
        yield Violation(
            f"face is only {smallest} px{scaled} ({share:.0%} of the frame's shorter side; needs "
            f"{fmt_num(min_px)} px and {min_share:.0%}): {_at(spans)}",
            smallest,
            {"min_px": min_px, "min_share": min_share},
            False,
            spans,
        )

    yield from _family(job, check)


def check_pose(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The face should look at the camera: turned left or right by at most ``max_yaw`` degrees.

    The turn (yaw) is estimated from the landmarks: where the nose tip lies between the eyes and
    between the ears. A face in profile shows one side of the mouth; lip-sync services want a
    frontal face (sync.so: "frontal and well lit") and their face detectors and landmark models
    lose a profile face, so such jobs fail or come back with a smeared mouth after they are paid
    for.
    """

    def check(a: FaceAnalysis) -> Iterator[Violation]:
        flags = failing("face.pose", a, params)
        spans = _spans(a, flags, params.get("tolerance", 0.0))
        if not spans:
            return
        worst = max(abs(s.yaw or 0.0) for s, f in zip(a.samples, flags, strict=True) if f)
        limit = params.get("max_yaw", 90)
        yield Violation(
            f"face is turned away from the camera (about {fmt_num(round(worst))}°, at most "
            f"{fmt_num(limit)}°; profile views lip-sync badly): {_at(spans)}",
            round(worst, 1),
            limit,
            False,
            spans,
        )

    yield from _family(job, check)


def check_mouth(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The mouth must be visible: inside the frame, where a mouth belongs, and not covered.

    From the detector's mouth centre: a mouth reaching past the frame's edge is cut off; a
    mouth centre outside the face, or not below the eyes, means the detector only guessed. The
    mouth region's contrast over the whole face's must be at least ``min_detail``: a hand,
    microphone or flat patch over the mouth makes it flat (a visible mouth reads 0.35-0.8 on the
    test portrait, a blurred one 0.22, a covered one under 0.05). sync.so asks for nothing over
    the mouth; Wav2Lip and LatentSync paste a new mouth over whatever is there.
    """

    def check(a: FaceAnalysis) -> Iterator[Violation]:
        tolerance = params.get("tolerance", 0.0)
        issues = [_mouth_issue(a, s, params) for s in a.samples]
        spans = _spans(a, [i is not None for i in issues], tolerance)
        if not spans:
            return
        reasons = sorted({i for i in issues if i is not None})
        details = [
            s.mouth_detail
            for s, i in zip(a.samples, issues, strict=True)
            if i is not None and s.mouth_detail is not None
        ]
        least = round(min(details), 2) if details else None
        yield Violation(
            f"mouth not clearly visible ({'; '.join(reasons)}): {_at(spans)}",
            least,
            params.get("min_detail"),
            False,
            spans,
        )

    yield from _family(job, check)


def check_lighting(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The face must be well lit: neither too dark, too bright nor flat.

    The mean luminance of the face region must lie within ``min_luma`` .. ``max_luma`` (0-255)
    and its contrast (standard deviation) must be at least ``min_contrast``.

    Dark, blown-out or flat faces lose the detail lip-sync needs. One finding per problem (too
    dark, too bright, low contrast), each with its time ranges.
    """

    def check(a: FaceAnalysis) -> Iterator[Violation]:
        tolerance = params.get("tolerance", 0.0)
        problems: list[tuple[Verdict, str, str, str, bool]] = [
            (_too_dark, "too dark", "luma", "min_luma", True),
            (_too_bright, "too bright", "luma", "max_luma", False),
            (_flat, "low in contrast", "contrast", "min_contrast", True),
        ]
        for verdict, what, field, key, lowest in problems:
            if key not in params:
                continue
            flags = [verdict(a, s, params) for s in a.samples]
            spans = _spans(a, flags, tolerance)
            if not spans:
                continue
            values = [getattr(s, field) for s, f in zip(a.samples, flags, strict=True) if f]
            worst = round(min(values) if lowest else max(values), 1)
            bound = "minimum" if lowest else "maximum"
            yield Violation(
                f"face is {what} ({field} {fmt_num(worst)}, {bound} {fmt_num(params[key])}): "
                f"{_at(spans)}",
                worst,
                params[key],
                False,
                spans,
            )

    yield from _family(job, check)


def check_sharpness(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The face must be in focus: variance of the Laplacian of its region at least ``min``.

    Measured on the face region scaled to 64x64 gray levels (0-255), so a near and a far face
    compare; a sharp face scores in the hundreds, an out-of-focus one in the tens.
    """

    def check(a: FaceAnalysis) -> Iterator[Violation]:
        flags = failing("face.sharpness", a, params)
        spans = _spans(a, flags, params.get("tolerance", 0.0))
        if not spans:
            return
        worst = min(s.sharpness or 0.0 for s, f in zip(a.samples, flags, strict=True) if f)
        yield Violation(
            f"face is blurred (sharpness {fmt_num(round(worst, 1))}, minimum "
            f"{fmt_num(params.get('min', 0))}): {_at(spans)}",
            round(worst, 1),
            params.get("min"),
            False,
            spans,
        )

    yield from _family(job, check)


def check_stability(job: Job, params: Mapping[str, Any]) -> Iterator[Violation]:
    """The head must be steady: no fast movement and no jumps (cuts between shots).

    Between two samples, the face's centre may move at most ``max_shift`` face sides per second
    and its size change by at most ``max_size_change`` (relative) per second.

    Fast head movement and cuts between shots (the face jumps) spoil lip-sync. The range given
    is the sample interval in which the movement or jump happened.
    """

    def check(a: FaceAnalysis) -> Iterator[Violation]:
        flags = failing("face.stability", a, params)
        # sample i judges the movement since sample i - 1 (never sample 0): the range is the
        # interval between them
        tolerance = params.get("tolerance", 0.0)
        spans = [
            span
            for first, last in runs(flags)
            if (span := a.span(max(first - 1, 0), max(last - 1, 0)))[1] - span[0]
            >= tolerance - 1e-9
        ]
        if not spans:
            return
        moved = [s for s, f in zip(a.samples, flags, strict=True) if f]
        fastest = max((s.shift or 0.0) / a.interval for s in moved)
        scaling = max((s.size_change or 0.0) / a.interval for s in moved)
        yield Violation(
            f"head moves or jumps (up to {fmt_num(round(fastest, 2))} face sides/s, size "
            f"{fmt_num(round(scaling, 2))}/s; limits {fmt_num(params.get('max_shift', 0))} and "
            f"{fmt_num(params.get('max_size_change', 0))}): {_at(spans)}",
            {"shift": round(fastest, 2), "size_change": round(scaling, 2)},
            {
                "max_shift": params.get("max_shift"),
                "max_size_change": params.get("max_size_change"),
            },
            False,
            tuple(spans),
        )

    yield from _family(job, check)


RULES = (
    Rule(
        "face.present",
        check_present,
        {
            "min_share": Param(ParamType.NUMBER, 0.9, "share of sampled frames with a face"),
            "tolerance": _tolerance(0.5),
        },
    ),
    Rule(
        "face.count",
        check_count,
        {
            "max": Param(ParamType.INTEGER, 1, "faces allowed in view at once"),
            "min_ratio": Param(
                ParamType.NUMBER, 0.5, "count faces at least this share of the largest's side"
            ),
            "tolerance": _tolerance(0.5),
        },
        Severity.WARNING,
    ),
    Rule(
        "face.size",
        check_size,
        {
            "min_px": Param(ParamType.NUMBER, 100, "smallest face side, display pixels"),
            "min_share": Param(ParamType.NUMBER, 0.12, "face side / frame's shorter side"),
            "frame_min": Param(ParamType.INTEGER, None, "planned scale: smallest frame side"),
            "frame_max": Param(ParamType.INTEGER, None, "planned scale: largest frame side"),
            "tolerance": _tolerance(0.5),
        },
        Severity.WARNING,
    ),
    Rule(
        "face.pose",
        check_pose,
        {
            "max_yaw": Param(ParamType.NUMBER, 45, "degrees the head may turn left or right"),
            "tolerance": _tolerance(0.5),
        },
        Severity.WARNING,
    ),
    Rule(
        "face.mouth",
        check_mouth,
        {
            "min_detail": Param(
                ParamType.NUMBER, 0.15, "mouth region's contrast / the face's (below: covered)"
            ),
            "tolerance": _tolerance(0.5),
        },
        Severity.WARNING,
    ),
    Rule(
        "face.lighting",
        check_lighting,
        {
            "min_luma": Param(ParamType.NUMBER, 60, "darkest mean face luminance, 0-255"),
            "max_luma": Param(ParamType.NUMBER, 210, "brightest mean face luminance, 0-255"),
            "min_contrast": Param(ParamType.NUMBER, 20, "lowest face luminance std dev"),
            "tolerance": _tolerance(0.5),
        },
        Severity.WARNING,
    ),
    Rule(
        "face.sharpness",
        check_sharpness,
        {
            "min": Param(ParamType.NUMBER, 60, "lowest variance of the Laplacian (64x64 face)"),
            "tolerance": _tolerance(0.5),
        },
        Severity.WARNING,
    ),
    Rule(
        "face.stability",
        check_stability,
        {
            "max_shift": Param(ParamType.NUMBER, 2.0, "face sides per second"),
            "max_size_change": Param(ParamType.NUMBER, 1.0, "relative size change per second"),
            "tolerance": _tolerance(0.0),
        },
        Severity.WARNING,
    ),
)
