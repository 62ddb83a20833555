"""The report renderers: JSON shape, JUnit and SARIF as valid documents, GitHub escaping, text."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

import pytest
from _facts import video

from preflight.model.facts import AudioStream, ImageInfo, MediaFacts, VideoStream
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


def _old_json(value: object) -> str:
    """The JSON report as it was written before the C-encoder layout: the reference."""
    from preflight.report.json_format import jsonable

    return json.dumps(jsonable(value), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _odd_report() -> Report:
    """Everything the layout must carry: NaN and infinities, non-ASCII and control characters
    in names, ranges, list and dict values, empty findings and facts."""
    nan = Finding("video.fps", Severity.WARNING, "fps is nan", float("nan"), [float("inf"), 1])
    ranged = Finding(
        "face.size", Severity.ERROR, "small", {"min": 0.1, "at": [1, 2]}, 0.2, ranges=((0.5, 1.5),)
    )
    return Report(
        profile="kling-lipsync",
        results=(
            Result("clips/naïve\n\u2028 \"q\".mp4", False, (ERR, nan, ranged),
                   MappingProxyType({"video": video(), "audio": video(has_video=False)})),
            Result("empty.mp4", True),
        ),
    )  # fmt: skip


@pytest.mark.parametrize("make", [sample, _odd_report])
def test_json_layout_parses_to_what_indent_2_gave(make: Callable[[], Report]) -> None:
    report = make()
    text = render(report, "json")
    assert json.loads(text) == json.loads(_old_json(report.to_dict()))
    assert "NaN" not in text
    assert "Infinity" not in text
    lines = text.splitlines()
    assert lines[:3] == ["{", '  "version": 1,', '  "profile": "kling-lipsync",']
    # one line per input role's facts and per finding, inside an indented envelope
    facts = [line for line in lines if line.startswith('        "video": {')]
    assert facts
    assert all(json.loads("{" + line.rstrip(",") + "}") for line in facts)
    assert lines[-1] == "}"


def test_json_layout_of_other_values_matches_the_encoder() -> None:
    from preflight.report.json_format import dumps

    for value in ({1: "a", None: 2}, [], {}, [[], {}], "x", {"a": {"b": {"c": {"d": [1]}}}}):
        assert json.loads(dumps(value)) == json.loads(json.dumps(value)), value


def _facts_table() -> list[MediaFacts]:
    full = VideoStream(
        "hevc", 1920, 1080, 1920, 1088, 90, "4:3", "Main 10", "yuv420p10le", 10, 29.97, True,
        12.5, 8_000_000, 375, "smpte2084",
    )  # fmt: skip
    return [
        video(),
        video(has_video=False, audio_duration=3.0),
        video(container=None, duration=None, rotation=270, sar="4:3", coded=(1440, 1080)),
        MediaFacts("a.mov", "ffprobe", "mov", "mov", 7, 1.0, 9, full, AudioStream("aac", 48000, 2,
                   1.0, 128000), None, 1, 1, 2, {"geometry_conflict": "x"}),
        MediaFacts("p.png", "mediainfo", "png", "png", 5, image=ImageInfo("png", 10, 20)),
        MediaFacts("n.wav", "mediainfo", "wav", "", 1, audio=AudioStream(None)),
    ]  # fmt: skip


def test_facts_to_dict_is_what_asdict_gave() -> None:
    """`MediaFacts.to_dict` is written out; it must stay ``asdict``'s record plus the derived
    fields, key for key and in order."""
    from dataclasses import asdict

    for facts in _facts_table():
        expected = asdict(facts)
        expected.pop("extra")
        expected["effective_duration"] = facts.effective_duration
        expected["duration_source"] = facts.duration_source
        if facts.video is not None:
            expected["video"]["hdr"] = facts.video.hdr
        got = facts.to_dict()
        assert got == expected
        assert list(got) == list(expected)
        for part in ("video", "audio", "image"):
            assert list(got[part] or ()) == list(expected[part] or ())
