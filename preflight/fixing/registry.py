"""The explicit table of every fix, by the id of the rule it answers. No discovery.

A fixable rule (one whose findings say ``fixable``) registers its fix here through its family's
``FIXES`` (`video_fixes`, `audio_fixes`): a pure function that turns the rule's finding into a
change of the output draft. The planner runs a role's fixes in table order and composes them;
it never asks which rule it is looking at. ``get`` fails loudly (`UnknownFixError`) on a rule
with no fix, so a finding that claims to be fixable cannot be silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, TypeVar

from preflight.fixing import audio_fixes, video_fixes
from preflight.fixing.audio_fixes import AudioFix
from preflight.fixing.video_fixes import VideoFix

__all__ = ["AUDIO", "VIDEO", "UnknownFixError", "fixable_rules", "get", "steps"]

F = TypeVar("F")


class UnknownFixError(KeyError):
    """A rule id with no registered fix for the input's role."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no fix registered"


def _table(family: tuple[tuple[str, F], ...]) -> Mapping[str, F]:
    table: dict[str, F] = {}
    for rule, fix in family:
        if rule in table:
            raise RuntimeError(f"fix for {rule!r} registered twice")
        table[rule] = fix
    return MappingProxyType(table)


VIDEO: Mapping[str, VideoFix] = _table(video_fixes.FIXES)
AUDIO: Mapping[str, AudioFix] = _table(audio_fixes.FIXES)


def get(rule_id: str, role: Literal["video", "audio"]) -> VideoFix | AudioFix:
    """The fix of ``rule_id`` for a ``role`` input; raises UnknownFixError naming the known ids."""
    table: Mapping[str, VideoFix] | Mapping[str, AudioFix] = VIDEO if role == "video" else AUDIO
    try:
        return table[rule_id]
    except KeyError:
        raise UnknownFixError(
            f"no {role} fix registered for rule {rule_id!r} (known: {', '.join(sorted(table))})"
        ) from None


def steps(table: Mapping[str, F]) -> list[tuple[tuple[str, ...], F]]:
    """Each distinct fix of ``table`` once, in table order, with the rule ids it answers.

    One fix may answer several rules (the frame answers ``video.width`` and ``video.height``;
    fitting to the audio answers ``job.av_duration`` and ``job.av_ratio``); it runs once.
    """
    order: list[F] = []
    rules: dict[int, list[str]] = {}
    for rule, fix in table.items():
        if id(fix) not in rules:
            order.append(fix)
            rules[id(fix)] = []
        rules[id(fix)].append(rule)
    return [(tuple(rules[id(fix)]), fix) for fix in order]


def fixable_rules() -> frozenset[str]:
    """Every rule id with a fix, for either role."""
    return frozenset(VIDEO) | frozenset(AUDIO)
