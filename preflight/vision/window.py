"""The face window: the longest stretch of a clip in which every enabled face rule passes.

`preflight fix --face-window` trims to it. A stretch is a run of consecutive samples that fail no
face rule, cut wherever ``face.stability`` fails (a jump between two samples may not lie inside
the window). It spans ``[first sample, last sample + interval)``. Longer than the profile's
``video.duration`` ``max``, it keeps its first ``max`` seconds; shorter than ``min``, there is no
usable window and `FixError` says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from preflight.errors import FixError
from preflight.rules.base import fmt_num
from preflight.rules.face import failing
from preflight.vision.analysis import FaceAnalysis

__all__ = ["FaceWindow", "face_window", "stretches"]

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
