"""The report renderers: JSON shape, JUnit and SARIF as valid documents, GitHub escaping, text."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from types import MappingProxyType

import pytest
from _facts import video

from preflight.model.findings import Finding, Severity
from preflight.report import Report, Result, render
from preflight.report.github import escape_data, escape_property

ERR = Finding(
    "video.duration", Severity.ERROR, "duration (video) is 12 s, above 10 s", 12.0, 10.0, True
)
WARN = Finding("video.codec", Severity.WARNING, "video codec is prores", "prores", ["h264"], True)
NOTE = Finding("text.length", Severity.INFO, "100%, ok: fine\nsecond line", 5, 120, False)


def sample(strict: bool = False) -> Report:
    return Report(
        profile="kling-lipsync",
        strict=strict,
        results=(
            Result("clips/a b.mp4", False, (ERR, WARN), MappingProxyType({"video": video()})),
            Result("clips/ok.mp4", True, (), MappingProxyType({"video": video()})),
            Result("jobs.jsonl:3", True, (NOTE,), location="jobs.jsonl", line=3),
        ),
    )


def test_json_shape_is_the_documented_one() -> None:
    doc = json.loads(render(sample(), "json"))
    assert set(doc) == {"version", "profile", "results", "summary"}
    assert doc["version"] == 1
    assert doc["profile"] == "kling-lipsync"
    first = doc["results"][0]
    assert set(first) == {"path", "ok", "facts", "findings"}
    assert first["path"] == "clips/a b.mp4"
    assert first["ok"] is False
    assert first["facts"]["video"]["size_bytes"] == 1_000_000
    assert first["facts"]["video"]["effective_duration"] == 4.0
    assert first["findings"][0] == {
        "rule": "video.duration",
        "severity": "error",
        "message": "duration (video) is 12 s, above 10 s",
        "measured": 12.0,
        "limit": 10.0,
        "fixable": True,
    }
    assert doc["summary"] == {
        "inputs": 3,
        "passed": 2,
        "failed": 1,
        "errors": 1,
        "warnings": 1,
        "infos": 1,
        "fixable": 2,
        "rules": {"text.length": 1, "video.codec": 1, "video.duration": 1},
        "strict": False,
        "ok": False,
    }


def test_junit_parses_and_counts() -> None:
    root = ET.fromstring(render(sample(), "junit"))
    assert root.tag == "testsuites"
    (suite,) = root
    assert suite.get("tests") == "3"
    assert suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["clips/a b.mp4", "clips/ok.mp4", "jobs.jsonl:3"]
    failure = cases[0].find("failure")
    assert failure is not None
    assert failure.get("type") == "video.duration"
    assert "video.codec" in (failure.text or "")
    assert cases[1].find("failure") is None
    assert "second line" in (cases[2].findtext("system-out") or "")


def test_sarif_has_the_required_structure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    doc = json.loads(render(sample(), "sarif"))
    assert doc["version"] == "2.1.0"
    assert doc["$schema"].endswith("sarif-2.1.0.json")
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "preflight"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert rule_ids == ["text.length", "video.codec", "video.duration"]
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
    levels = [(r["ruleId"], r["level"]) for r in run["results"]]
    assert levels == [
        ("video.duration", "error"),
        ("video.codec", "warning"),
        ("text.length", "note"),
    ]
    for result in run["results"]:
        assert result["message"]["text"]
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        (loc,) = result["locations"]
        assert loc["physicalLocation"]["artifactLocation"]["uri"]
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "clips/a%20b.mp4"
    )
    assert run["results"][2]["locations"][0]["physicalLocation"]["region"] == {"startLine": 3}


def test_github_annotations_escape_properly() -> None:
    out = render(sample(), "github").splitlines()
    assert out[0] == (
        "::error file=clips/a b.mp4,title=preflight video.duration::"
        "duration (video) is 12 s, above 10 s (fixable with `preflight fix`)"
    )
    assert out[1].startswith("::warning file=clips/a b.mp4,title=preflight video.codec::")
    assert out[2] == (
        "::notice file=jobs.jsonl,line=3,title=preflight text.length::"
        "100%25, ok: fine%0Asecond line"
    )
    assert escape_property("a,b:c%\n") == "a%2Cb%3Ac%25%0A"
    assert escape_data("a:b,c\r") == "a:b,c%0D"


def test_text_plain_and_coloured() -> None:
    plain = render(sample(), "text")
    assert "\x1b[" not in plain
    assert "FAIL  clips/a b.mp4" in plain
    assert "PASS  clips/ok.mp4" in plain
    assert "video.duration" in plain
    assert "[fixable]" in plain
    assert "3 inputs: 2 passed, 1 failed (1 error, 1 warning; 2 fixable" in plain
    coloured = render(sample(), "text", color=True)
    assert "\x1b[31m" in coloured


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render(sample(), "yaml")


def test_json_report_matches_the_published_schema() -> None:
    import importlib.resources

    import jsonschema

    schema = json.loads(
        importlib.resources.files("preflight.report").joinpath("report.schema.json").read_text()
    )
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(render(sample(), "json")), schema)
    broken = json.loads(render(sample(), "json"))
    broken["results"][0]["findings"][0]["severity"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_text_groups_identical_notes_of_one_family() -> None:
    skipped = [
        Finding(f"face.{r}", Severity.INFO, "face checks skipped: install the extra")
        for r in ("present", "count", "size")
    ]
    report = Report("kling-lipsync", (Result("a.mp4", True, (ERR, *skipped)),))
    out = render(report, "text")
    assert "face.* (3)" in out
    assert out.count("face checks skipped") == 1
    assert "video.duration" in out
    # the machine formats keep one entry per finding
    assert len(json.loads(render(report, "json"))["results"][0]["findings"]) == 4
