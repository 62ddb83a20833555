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
