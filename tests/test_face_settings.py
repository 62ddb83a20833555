"""The face rules analysed are the face rules judged: `face_settings` reads `evaluate`'s plan."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from preflight.checking.config import Config, RuleOverride
from preflight.checking.evaluate import enabled_params
from preflight.checking.faces import FACE_RULES, face_settings
from preflight.rules.profiles import load_profile
from preflight.rules.registry import get


def _config(**overrides: bool) -> Config:
    rules = {rule.replace("_", "."): RuleOverride(enabled=on) for rule, on in overrides.items()}
    return Config(rules=MappingProxyType(rules))


@pytest.mark.parametrize(
    ("profile", "config", "expected"),
    [
        ("kling-lipsync", None, list(FACE_RULES)),
        ("kling-lipsync", _config(face_pose=False, face_mouth=False),
         [r for r in FACE_RULES if r not in ("face.pose", "face.mouth")]),
        ("sync-lipsync-2", None,
         ["face.present", "face.size", "face.pose", "face.mouth", "face.lighting"]),
        ("sync-lipsync-2", _config(face_count=True), [  # the config adds one: its defaults
            "face.present", "face.count", "face.size", "face.pose", "face.mouth", "face.lighting"]),
        ("heygen-lipsync", None, []),
        ("heygen-lipsync", _config(face_present=True), ["face.present"]),
    ],
)  # fmt: skip
def test_face_settings_are_the_face_rules_evaluate_runs(
    profile: str, config: Config | None, expected: list[str]
) -> None:
    loaded = load_profile(profile)
    settings = face_settings(loaded, config)
    assert list(settings) == expected  # in FACE_RULES order, whatever the profile's
    plan = enabled_params(loaded, config)
    assert {r: plan[r] for r in expected} == settings
    for rule_id, params in settings.items():
        given = loaded.rules.get(rule_id)
        assert dict(params) == (dict(given.params) if given else get(rule_id).defaults())
