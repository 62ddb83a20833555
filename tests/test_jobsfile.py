"""The jobs file both `check --jobs` and `submit --jobs` read."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from preflight.checking.jobsfile import read_jobs_file
from preflight.model.errors import ConfigError
from preflight.model.sources import is_url


def test_lines_are_parsed_and_bad_ones_kept_as_errors(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        '# a comment\n\n{"video": "a.mp4"}\nnot json\n[1, 2]\n  {"video": "https://x.test/b.mp4"}\n',
        encoding="utf-8",
    )
    read = read_jobs_file(jobs)
    assert read.label == str(jobs)
    assert [line.lineno for line in read.lines] == [3, 4, 5, 6]
    assert read.lines[0].data == {"video": "a.mp4"}
    assert read.lines[1].data is None
    assert read.lines[1].error is not None
    assert read.lines[1].error.startswith("not valid JSON")
    assert read.lines[2].error == "a job line must be a JSON object"
    assert read.resolve("a.mp4") == str(tmp_path / "a.mp4")
    assert read.resolve("https://x.test/b.mp4") == "https://x.test/b.mp4"


def test_stdin_paths_are_relative_to_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO('{"audio": "v.m4a"}\n'))
    read = read_jobs_file("-")
    assert read.label == "<stdin>"
    assert read.resolve("v.m4a") == str(tmp_path / "v.m4a")


def test_missing_or_undecodable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="jobs file not found"):
        read_jobs_file(tmp_path / "nope.jsonl")
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="cannot read jobs file"):
        read_jobs_file(binary)


@pytest.mark.parametrize(
    ("source", "expected"),
    [("http://a/b.mp4", True), ("HTTPS://A/B", True), ("./http:x.mp4", False), (None, False)],
)
def test_is_url(source: str | None, expected: bool) -> None:
    assert is_url(source) is expected


def test_csv_and_jsonl_are_one_schema(tmp_path: Path) -> None:
    jsonl = tmp_path / "jobs.jsonl"
    jsonl.write_text(
        '{"video": "a.mp4", "text": "Hi", "voice_id": "uk_man2", "voice_speed": 1.2, '
        '"provider": "kling", "out": "r/a.mp4", "external_task_id": "t-1", "fix": false}\n',
        encoding="utf-8",
    )
    csv_file = tmp_path / "jobs.csv"
    csv_file.write_text(
        "video,text,voice_id,voice_speed,provider,out,external_task_id,fix\n"
        "# a comment row\n"
        "a.mp4,Hi,uk_man2,1.2,kling,r/a.mp4,t-1,false\n",
        encoding="utf-8",
    )
    (one,) = read_jobs_file(jsonl).lines
    (two,) = read_jobs_file(csv_file).lines
    assert one.spec is not None
    assert one.spec == two.spec
    assert one.spec.video == str(tmp_path / "a.mp4")
    assert one.spec.out == str(tmp_path / "r" / "a.mp4")
    assert one.spec.voice_speed == 1.2
    assert one.spec.fix is False
    assert one.spec.given()["external_task_id"] == "t-1"


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('{"vidoe": "a.mp4"}', "unknown key 'vidoe'"),
        ('{"video": 3}', "key 'video' must be a string"),
        ('{"voice_speed": "fast"}', "key 'voice_speed' must be a number"),
        ('{"voice_speed": true}', "key 'voice_speed' must be a number"),
        ('{"face": "yes"}', "key 'face' must be true or false"),
    ],
)
def test_a_bad_line_is_an_error_of_its_own(tmp_path: Path, line: str, error: str) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(f'{line}\n{{"video": "ok.mp4"}}\n', encoding="utf-8")
    bad, good = read_jobs_file(jobs).lines
    assert bad.spec is None
    assert bad.error is not None
    assert error in bad.error
    assert good.spec is not None


def test_csv_cells_are_typed_and_bad_headers_refused(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("video,voice_speed,face\na.mp4,,TRUE\nb.mp4,slow,no\n", encoding="utf-8")
    first, second = read_jobs_file(jobs).lines
    assert first.spec is not None
    assert first.spec.voice_speed is None  # an empty cell is a field not given
    assert first.spec.face is True
    assert second.error == "key 'voice_speed' must be a number"
    jobs.write_text("video,colour\na.mp4,red\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown column"):
        read_jobs_file(jobs)


def test_stdin_csv_is_recognised_by_its_header(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("video,text\nv.mp4,Hello\n"))
    (line,) = read_jobs_file("-").lines
    assert line.spec is not None
    assert line.spec.text == "Hello"
