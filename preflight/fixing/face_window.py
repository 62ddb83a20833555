"""The face window: the longest stretch of a clip in which every enabled face rule passes.

`preflight fix --face-window` trims to it. A stretch is a run of consecutive samples that fail no
face rule, cut wherever ``face.stability`` fails (a jump between two samples may not lie inside
the window). It spans ``[first sample, last sample + interval)``. Longer than the profile's
``video.duration`` ``max``, it keeps its first ``max`` seconds; shorter than ``min``, there is no
usable window and `FixError` says why.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from preflight.model.errors import FixError
from preflight.rules.base import fmt_num
from preflight.rules.face import failing
from preflight.vision import DEFAULT_RATE
from preflight.vision.analysis import FaceAnalysis

if TYPE_CHECKING:
    from preflight.checking.config import Config
    from preflight.model.profile import Profile

__all__ = ["FaceWindow", "face_window", "stretches", "window_for"]

_BETWEEN = "face.stability"  # judges the step from the previous sample, not the sample itself


@dataclass(frozen=True, slots=True)
class FaceWindow:
    """Seconds of the source to keep: ``start`` (inclusive) to ``end``."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return round(self.end - self.start, 3)


def stretches(
    analysis: FaceAnalysis, settings: Mapping[str, Mapping[str, Any]]
) -> list[FaceWindow]:
    """Every maximal stretch where all the rules in ``settings`` pass, in time order."""
    count = len(analysis.samples)
    good = [True] * count
    cut_before = [False] * count
    for rule_id, params in settings.items():
        flags = failing(rule_id, analysis, params)
        for i, flag in enumerate(flags):
            if not flag:
                continue
            if rule_id == _BETWEEN:
                cut_before[i] = True
            else:
                good[i] = False
    found: list[FaceWindow] = []
    first: int | None = None
    for i in range(count + 1):
        ends = i == count or not good[i] or cut_before[i]
        if ends and first is not None:
            found.append(FaceWindow(*analysis.span(first, i - 1)))
            first = None
        if i < count and good[i] and first is None:
            first = i
    return found


def face_window(
    analysis: FaceAnalysis,
    settings: Mapping[str, Mapping[str, Any]],
    *,
    min_duration: float | None = None,
    max_duration: float | None = None,
) -> FaceWindow:
    """The longest stretch passing every face rule, fitted to ``min``..``max`` seconds.

    Ties go to the earliest. Raises `FixError` naming the best stretch found when none is long
    enough, or saying that no sampled frame passes.
    """
    found = stretches(analysis, settings)
    if not found:
        rules = ", ".join(settings) or "no face rules"
        raise FixError(f"no part of the clip passes the face checks ({rules})")
    best = max(found, key=lambda w: (w.duration, -w.start))
    if min_duration is not None and best.duration < min_duration - 1e-6:
        raise FixError(
            f"the longest stretch that passes every face check is {fmt_num(best.duration)} s "
            f"({fmt_num(best.start)}–{fmt_num(best.end)} s); at least {fmt_num(min_duration)} s "
            "is needed"
        )
    if max_duration is not None and best.duration > max_duration:
        best = FaceWindow(best.start, round(best.start + max_duration, 3))
    return best


def window_for(
    source: str | os.PathLike[str],
    profile: Profile,
    config: Config | None = None,
    *,
    rate: float = DEFAULT_RATE,
) -> FaceWindow:
    """Probe and analyse ``source``, then find its face window under ``profile``'s face rules
    and ``video.duration`` limits. Raises `FixError` with the reason when there is none."""
    from preflight.checking.faces import face_settings
    from preflight.probing import probe
    from preflight.vision import INSTALL_HINT, available
    from preflight.vision.analysis import analyse

    settings = face_settings(profile, config)
    if not settings:
        raise FixError(f"profile {profile.id!r} enables no face rule: nothing to find a window for")
    if not available():
        raise FixError(f"--face-window needs the face checks: {INSTALL_HINT}")
    facts = probe(source)
    stream = facts.video
    if stream is None or not stream.width or not stream.height:
        raise FixError(f"{os.fspath(source)}: no video stream to find a face in")
    analysis = analyse(
        source, stream.width, stream.height, duration=facts.effective_duration, rate=rate
    )
    return face_window(
        analysis,
        settings,
        min_duration=profile.param("video.duration", "min", None),
        max_duration=profile.param("video.duration", "max", None),
    )
