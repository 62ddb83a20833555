"""The engine: which rules run, with which severity, from profile and config."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from _facts import run, text_job, video

from preflight.checking.config import Config, RuleOverride
from preflight.checking.evaluate import evaluate, is_ok
from preflight.model.findings import Finding, Severity
from preflight.model.job import Job
from preflight.rules.profiles import load_profile
from preflight.rules.registry import UnknownRuleError, get


def cfg(**rules: RuleOverride) -> Config:
    return Config(rules=MappingProxyType({k.replace("_", "."): v for k, v in rules.items()}))


def test_findings_carry_everything() -> None:
    (f,) = run(text_job(video=video(duration=12.0)))
    assert f.to_dict() == {
        "rule": "video.duration",
        "severity": "error",
        "message": "duration (video) is 12 s, above the maximum of 10 s",
        "measured": 12.0,
        "limit": 10.0,
        "fixable": True,
    }


def test_input_errors_become_input_readable() -> None:
    job = Job(
        name="x",
        input_errors=(("video", "no such file: x.mp4"),),
        text="hi",
        voice_id="genshin_klee2",
        voice_language="en",
    )
    findings = run(job)
    assert [f.rule for f in findings] == ["input.readable"]
    assert findings[0].severity is Severity.ERROR
    assert "no such file" in findings[0].message
    assert not findings[0].fixable


def test_config_changes_severity_and_enablement() -> None:
    profile = load_profile("kling-lipsync")
    job = text_job(video=video(duration=12.0, codec="prores"))
    assert [f.severity for f in evaluate(job, profile)] == [Severity.ERROR, Severity.WARNING]
    config = cfg(
        video_duration=RuleOverride(enabled=False),
        video_codec=RuleOverride(severity=Severity.ERROR),
    )
    (f,) = evaluate(job, profile, config)
    assert (f.rule, f.severity) == ("video.codec", Severity.ERROR)


def test_config_cannot_silence_unreadable_input() -> None:
    profile = load_profile("kling-lipsync")
    job = text_job(video=None, input_errors=(("video", "empty file"),))
    config = cfg(input_readable=RuleOverride(enabled=False, severity=Severity.INFO))
    (f,) = evaluate(job, profile, config)
    assert f.severity is Severity.ERROR


def test_config_enables_rule_the_profile_disables() -> None:
    profile = load_profile("kling-advanced-lipsync")
    job = Job(name="j", video=video(), audio=None, text="x" * 300)
    assert not [f for f in evaluate(job, profile) if f.rule == "text.length"]
    on = evaluate(job, profile, cfg(text_length=RuleOverride(enabled=True)))
    assert [f.rule for f in on if f.rule == "text.length"] == ["text.length"]


def test_registry_lookup_fails_loudly() -> None:
    with pytest.raises(UnknownRuleError, match=r"video\.lenght"):
        get("video.lenght")


@pytest.mark.parametrize(
    ("severities", "strict", "ok"),
    [
        ([], False, True),
        ([Severity.INFO], True, True),
        ([Severity.WARNING], False, True),
        ([Severity.WARNING], True, False),
        ([Severity.ERROR], False, False),
    ],
)
def test_is_ok(severities: list[Severity], strict: bool, ok: bool) -> None:
    findings = [Finding(rule="r", severity=s, message="m") for s in severities]
    assert is_ok(findings, strict=strict) is ok
