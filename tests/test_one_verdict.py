"""One job, one verdict: every path that judges a job judges it the same way (issue 9).

Each row is a job a new user would try. It goes through `check`, `fix` then `check`,
`check --fix`, `submit` against the loopback sandbox, and the library (`preflight.check`,
`preflight.submit`), and each must give the row's verdict with the documented exit code:
0 passes (warnings shown), 1 an input problem (missing, unreadable, failing, unfixable), and with
``--strict`` warnings are 1 too. Media are made once per session (small clips) and copied into
each row's folder, where the row's ``preflight.toml`` (if any) is found by discovery.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import preflight
from preflight.cli import main
from preflight.client import KlingClient
from preflight.model.errors import ConfigError, PreflightError
from preflight.sandbox import Sandbox, SandboxConfig

Media = Callable[[str], Path]
TEXT = ("--text", "Hello there!", "--voice-id", "genshin_klee2")  # no --voice-language
DOWNGRADE = '[rules."face.present"]\nseverity = "warning"\n'


@dataclass(frozen=True)
class Row:
    """A job and what every command must say about it.

    ``video`` names a clip of the module's `clips`; ``args`` are the request options (``{audio}``
    is replaced by the long audio's path). ``rule`` is the finding that decides the verdict
    (None: nothing beyond notes), with the severity every command must give it.
    """

    id: str
    video: str
    args: tuple[str, ...]
    check: int  # check; check of fix's output; the library check (ok = exit 0)
    strict: int  # check --strict, submit --strict, preflight.submit(strict=True)
    fix: int  # fix, and check --fix
    submit: int
    rule: str | None = None
    severity: str | None = None
    config: str | None = None


ROWS = [
    # the default voice_language (en) is what submit sends: check judges that, not a gap
    Row("missing_voice_language", "face", TEXT, check=0, strict=0, fix=0, submit=0),
    # 8 s of audio on a 4 s clip: a warning everywhere, blocking only with --strict
    Row(
        "long_audio",
        "face",
        ("--audio", "{audio}"),
        check=0,
        strict=1,
        fix=0,
        submit=0,
        rule="job.av_duration",
        severity="warning",
    ),
    # no face: fails everywhere, and fix says so instead of "all pass"
    Row(
        "faceless",
        "faceless",
        TEXT,
        check=1,
        strict=1,
        fix=1,
        submit=1,
        rule="face.present",
        severity="error",
    ),
    # the same clip with face.present downgraded in preflight.toml: passes everywhere
    Row(
        "downgraded_in_config",
        "faceless",
        TEXT,
        check=0,
        strict=1,
        fix=0,
        submit=0,
        rule="face.present",
        severity="warning",
        config=DOWNGRADE,
    ),
    Row(
        "unreadable",
        "unreadable",
        TEXT,
        check=1,
        strict=1,
        fix=1,
        submit=1,
        rule="input.readable",
        severity="error",
    ),
    Row(
        "missing",
        "missing",
        TEXT,
        check=1,
        strict=1,
        fix=1,
        submit=1,
        rule="input.readable",
        severity="error",
    ),
    # a Matroska URL: the container needs a remux, and Kling without hosting cannot take the
    # fixed file; submit must say so before any encode
    Row(
        "url_needs_fix_no_hosting",
        "url_mkv",
        TEXT,
        check=1,
        strict=1,
        fix=1,
        submit=1,
        rule="video.container",
        severity="error",
    ),
]


def rows(*, submit: bool = False) -> list[Any]:
    return [pytest.param(row, id=row.id) for row in ROWS]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)) as sb:
        yield sb


@pytest.fixture(scope="module")
def clips(
    face_media: Media, media: Media, sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """The rows' media, made once: a face clip, a face-less one, a long audio, junk, a URL."""
    from preflight.toolchain.binaries import ffmpeg_path

    folder = tmp_path_factory.mktemp("verdict")
    face = face_media("clear")
    mkv = folder / "face.mkv"
    subprocess.run(
        [ffmpeg_path(), "-y", "-v", "error", "-i", str(face), "-c", "copy", str(mkv)], check=True
    )
    junk = folder / "notes.mp4"
    junk.write_text("these are notes, not a video\n", encoding="utf-8")
    return {
        "face": str(face),
        "faceless": str(media("ok")),
        "audio": str(media("long_audio")),
        "unreadable": str(junk),
        "url_mkv": sandbox.serve_file(mkv),
    }


@dataclass
class Job:
    """One row laid out in its own folder (the working directory while the test runs)."""

    row: Row
    folder: Path
    video: str
    args: list[str]
    env: dict[str, str]

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=self.env)

    def fields(self) -> dict[str, Any]:
        """The row's request as library keywords."""
        it = iter(self.args)
        return {flag[2:].replace("-", "_"): value for flag, value in zip(it, it, strict=True)}


@pytest.fixture
def job_for(
    clips: dict[str, str], sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Row], Job]:
    def lay_out(row: Row) -> Job:
        monkeypatch.chdir(tmp_path)
        if row.config is not None:
            (tmp_path / "preflight.toml").write_text(row.config, encoding="utf-8")
        audio = tmp_path / Path(clips["audio"]).name
        shutil.copyfile(clips["audio"], audio)
        args = [a.replace("{audio}", str(audio)) for a in row.args]
        if row.video == "missing":
            video = str(tmp_path / "gone.mp4")
        elif row.video == "url_mkv":
            video = clips["url_mkv"]
        else:
            source = Path(clips[row.video])
            video = str(tmp_path / source.name)
            shutil.copyfile(source, video)
        env = {**sandbox.environment(), "PREFLIGHT_LEDGER": str(tmp_path / "ledger.sqlite3")}
        return Job(row, tmp_path, video, args, env)

    return lay_out


def decisive(findings: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """The findings that can change a verdict (errors and warnings), as (rule, severity)."""
    return {(f["rule"], f["severity"]) for f in findings if f["severity"] in ("error", "warning")}


def assert_rule(row: Row, found: set[tuple[str, str]]) -> None:
    if row.rule is None:
        assert not found, found
    else:
        assert (row.rule, row.severity) in found, found


def check_json(job: Job, *extra: str) -> tuple[int, set[tuple[str, str]]]:
    result = job.cli("check", job.video, *job.args, "-f", "json", *extra)
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.stdout)
    return result.exit_code, decisive(doc["results"][0]["findings"])


@pytest.mark.parametrize("row", rows())
def test_check_and_the_library_agree(row: Row, job_for: Callable[[Row], Job]) -> None:
    job = job_for(row)
    code, found = check_json(job)
    assert code == row.check
    assert_rule(row, found)
    assert check_json(job, "--strict")[0] == row.strict
    report = preflight.check([job.video], **job.fields())  # discovers preflight.toml too
    assert report.exit_code == row.check
    assert decisive([f.to_dict() for f in report.results[0].findings]) == found
    assert preflight.check([job.video], strict=True, **job.fields()).exit_code == row.strict


@pytest.mark.parametrize("row", rows())
def test_fix_then_check(row: Row, job_for: Callable[[Row], Job]) -> None:
    job = job_for(row)
    out = job.folder / "out"
    fixed = job.cli("fix", job.video, "--out-dir", str(out), "--preset", "ultrafast")
    assert fixed.exit_code == row.fix, fixed.output
    if row.fix == 0:
        assert "all pass" in fixed.output
        made = list(out.glob("*")) if out.is_dir() else []
        # what fix calls good, check calls good: its output, or the input it left as it was
        target = str(made[0]) if made else job.video
        assert job.cli("check", target, *job.args).exit_code == 0
    else:
        assert "all pass" not in fixed.output
        assert not out.is_dir() or not list(out.iterdir())  # nothing written
        assert job.cli("check", job.video, *job.args).exit_code == 1


@pytest.mark.parametrize("row", rows())
def test_check_fix(row: Row, job_for: Callable[[Row], Job]) -> None:
    job = job_for(row)
    result = job.cli("check", job.video, *job.args, "--fix")
    assert result.exit_code == row.fix, result.output
    if row.video in ("unreadable", "missing"):
        assert "1 unreadable" in result.stderr
        assert "all pass" not in result.stderr
    elif row.rule == "face.present" and row.fix:
        assert "1 unfixable" in result.stderr


def library_submit(job: Job, sandbox: Sandbox, **kw: Any) -> tuple[int, Any]:
    """`preflight.submit` as a command would end: its outcome's code, or 1/2 for an exception."""
    with KlingClient(
        sandbox.kling_access_key, sandbox.kling_secret_key, base_url=sandbox.url
    ) as client:
        try:
            result = preflight.submit(
                job.video,
                client=client,
                ledger=job.folder / "library.sqlite3",
                out=job.folder / "library.mp4",
                **job.fields(),
                **kw,
            )
        except ConfigError as exc:
            return 2, exc
        except PreflightError as exc:
            return 1, exc
    return result.exit_code, result


@pytest.mark.parametrize("row", rows(submit=True))
def test_submit_and_the_library_agree(
    row: Row, job_for: Callable[[Row], Job], sandbox: Sandbox, s3_bucket: str
) -> None:
    job = job_for(row)
    before = len(sandbox.tasks())
    hosting = [] if row.video == "url_mkv" else ["--upload-to", f"s3://{s3_bucket}/{row.id}"]
    result = job.cli("submit", job.video, *job.args, *hosting, "--format", "json")
    assert result.exit_code == row.submit, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    checks = [e for e in events if e["event"] == "check" and e["state"] in ("done", "fail")]
    if row.video != "missing":  # a missing file stops before the check, as an input error
        (check,) = checks
        found = decisive(check["findings"])
        assert found == check_json(job)[1]  # the very findings `check` gives
        assert_rule(row, found)
    created = len(sandbox.tasks()) - before
    assert created == (1 if row.submit == 0 else 0)
    if row.submit == 0:
        sent = sandbox.tasks()[-1].params
        if "--text" in job.args:
            assert sent["voice_language"] == "en"
    if row.video == "url_mkv":  # judged before anything is spent: no encode, a clear way out
        assert not [e for e in events if e["event"] == "fix"]
        assert "--upload-to" in result.output

    # the text output shows the warnings check shows, even on a pass
    if row.severity == "warning":
        again = ["--new", "-o", str(job.folder / "again.mp4")]  # a run of its own, not a resume
        text = job.cli("submit", job.video, *job.args, *hosting, *again)
        assert text.exit_code == row.submit, text.output
        assert f"! {row.rule}" in text.stderr
        strict = job.cli("submit", job.video, *job.args, *hosting, "--strict", "--new")
        assert strict.exit_code == row.strict, strict.output
        assert "rejected" in strict.stdout
        assert "fix:" not in strict.stderr  # a warning the fixer cannot answer costs no encode

    upload = {} if row.video == "url_mkv" else {"upload_to": f"s3://{s3_bucket}/lib-{row.id}"}
    code, _ = library_submit(job, sandbox, strict=True, **upload)
    assert code == row.strict


def test_the_jobs_file_submit_takes_is_the_one_check_and_fix_take(
    media: Media, tmp_path: Path
) -> None:
    shutil.copyfile(media("ok"), tmp_path / "a.mp4")
    shutil.copyfile(media("mkv"), tmp_path / "b.mkv")
    shutil.copyfile(media("mp3"), tmp_path / "voice.mp3")
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        '{"video": "a.mp4", "text": "Hi", "voice_id": "genshin_klee2", "out": "r/a.mp4", '
        '"provider": "kling", "external_task_id": "a-1"}\n'
        '{"video": "b.mkv", "audio": "voice.mp3", "provider": "wavespeed", "out": "r/b.mp4"}\n',
        encoding="utf-8",
    )
    checked = CliRunner().invoke(
        main, ["check", "--no-face", "--jobs", str(jobs), "-f", "json"], catch_exceptions=False
    )
    results = json.loads(checked.stdout)["results"]
    assert [r["ok"] for r in results] == [True, False]  # b.mkv needs a remux: that, and only that
    assert {f["rule"] for f in results[1]["findings"] if f["severity"] == "error"} == {
        "video.container"
    }
    assert checked.exit_code == 1

    from preflight.submitting.batch import read_job_lines

    requests = [line.request for line in read_job_lines(jobs, {})]
    assert [r.provider for r in requests if r is not None] == ["kling", "wavespeed"]

    fixed = CliRunner().invoke(
        main, ["fix", "--no-face", "--jobs", str(jobs), "--out-dir", str(tmp_path / "fixed")]
    )
    assert fixed.exit_code == 0, fixed.output
    assert sorted(p.name for p in (tmp_path / "fixed").iterdir()) == [
        "b.mp4"
    ]  # the mp3 already passes
    assert "all pass" in fixed.output
