"""One CLI vocabulary: formats, outputs, help text and examples; ids people get right;
start-up that imports nothing it does not need; live progress only on a terminal."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import preflight
from preflight.cli import COMMANDS, SUMMARIES, main
from preflight.cli.progress import Progress, Steps, eta_text
from preflight.cli.tasks_cmd import provider_for
from preflight.submitting.ledger import JobStatus, Ledger, job_key

Media = Callable[[str], Path]

NO_DATA_OUTPUT = {"sandbox"}  # a server: it prints the environment to paste, then serves


def _commands() -> dict[str, click.Command]:
    ctx = click.Context(main)
    found = {name: main.get_command(ctx, name) for name in COMMANDS}
    assert all(c is not None for c in found.values())
    return found  # type: ignore[return-value]


def _options(command: click.Command) -> dict[str, click.Option]:
    return {name: p for p in command.params if isinstance(p, click.Option) for name in p.opts}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_option_has_help_and_every_command_examples(name: str) -> None:
    command = _commands()[name]
    undocumented = [p.opts[0] for p in command.params if isinstance(p, click.Option) and not p.help]
    assert undocumented == []
    epilog = command.epilog or ""
    assert epilog.startswith("\b\nExamples:\n")
    lines = epilog.splitlines()[2:]
    assert 2 <= len(lines) <= 3
    assert all("preflight " in line for line in lines)


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - NO_DATA_OUTPUT))
def test_every_command_speaks_format_json(name: str) -> None:
    options = _options(_commands()[name])
    assert "-f" in options
    assert "--format" in options
    assert options["-f"] is options["--format"]
    choices = options["--format"].type
    assert isinstance(choices, click.Choice)
    assert "json" in choices.choices


@pytest.mark.parametrize("name", ["check", "fix", "submit", "animate"])
def test_output_is_dash_o_everywhere_and_submit_keeps_out(name: str) -> None:
    options = _options(_commands()[name])
    assert options["-o"] is options["--output"]
    if name in ("submit", "animate"):
        assert options["--out"] is options["--output"]


@pytest.mark.parametrize("name", ["status", "tasks"])
def test_json_flag_is_a_hidden_alias(name: str) -> None:
    options = _options(_commands()[name])
    assert options["--json"].hidden
    help_text = CliRunner().invoke(main, [name, "--help"]).output
    assert "--json" not in help_text
    assert "-f, --format [text|json]" in help_text


def test_command_list_matches_each_commands_own_help() -> None:
    """`preflight --help` reads SUMMARIES, not the commands: both must say the same."""
    commands = _commands()
    for name, command in commands.items():
        assert SUMMARIES[name] == command.get_short_help_str(limit=10_000)
    ours = CliRunner().invoke(main, ["--help"]).output.split("Commands:")[1]
    plain = click.Group("preflight", commands=commands, help=main.help)
    theirs = CliRunner().invoke(plain, ["--help"], prog_name="preflight").output
    # click lists commands sorted; ours keep the table's order: the same lines either way
    assert sorted(ours.splitlines()) == sorted(theirs.split("Commands:")[1].splitlines())


def test_help_imports_no_command() -> None:
    code = (
        "import sys\nfrom preflight.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('preflight')), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = eval(done.stderr)
    assert "Commands:" in done.stdout
    assert [m for m in loaded if m.startswith("preflight.cli.")] == []
    assert not any(m.startswith(("preflight.client", "preflight.sandbox")) for m in loaded)


def test_dir_shows_the_public_api_only() -> None:
    assert dir(preflight) == sorted({*preflight.__all__, "__version__"})


# --- ids people get right ---------------------------------------------------------------------


def test_unknown_voice_suggests_the_closest_and_how_to_list(media: Media) -> None:
    args = ["check", str(media("ok")), "--text", "Hi", "--voice-id", "genshin_kle2"]
    result = CliRunner().invoke(main, [*args, "--voice-language", "en", "--no-face"])
    assert result.exit_code == 1
    assert "did you mean genshin_klee2?" in result.output
    assert "`preflight voices` lists them" in result.output


def test_voices_lists_ids_with_their_language() -> None:
    text = CliRunner().invoke(main, ["voices"])
    assert text.exit_code == 0
    rows = dict(line.split() for line in text.output.splitlines())
    assert rows["genshin_klee2"] == "any"
    assert rows["reader_en_m-v1"] == "en"
    data = json.loads(CliRunner().invoke(main, ["voices", "-f", "json"]).output)
    assert {"voice_id": "genshin_klee2", "language": "any"} in data["voices"]
    assert len(data["voices"]) == len(rows)
    none = CliRunner().invoke(main, ["voices", "--profile", "kling-image2video"])
    assert none.exit_code == 0
    assert "takes no voice id" in none.output


def test_rules_prints_the_voice_list() -> None:
    result = CliRunner().invoke(main, ["rules", "--profile", "kling-lipsync"])
    assert result.exit_code == 0
    assert "voices (" in result.output
    assert "genshin_klee2" in result.output


@pytest.mark.parametrize(
    ("task_id", "provider"),
    [
        ("781234567890123456", "kling"),
        ("0f3c2a9be5d14b6f8a7c6e5d4c3b2a19", "wavespeed"),
    ],
)
def test_provider_from_the_ids_shape(task_id: str, provider: str, tmp_path: Path) -> None:
    assert provider_for(task_id, str(tmp_path / "none.sqlite3")) == (provider, None)
    assert not (tmp_path / "none.sqlite3").exists()  # asking does not create a ledger


def test_a_dashed_uuid_names_only_the_providers_it_may_belong_to(tmp_path: Path) -> None:
    # WaveSpeed's ids may be dashed UUIDs, and fal's always are: ask, naming just those two
    with pytest.raises(
        click.UsageError, match=r"several providers; try --provider wavespeed or --provider fal$"
    ):
        provider_for("0F3C2A9B-E5D1-4B6F-8A7C-6E5D4C3B2A19", str(tmp_path / "none.sqlite3"))


@pytest.mark.parametrize("task_id", ["abc", "12345", "task-1"])
def test_unknown_shape_says_which_provider_flag_to_try(task_id: str, tmp_path: Path) -> None:
    with pytest.raises(click.UsageError, match="try --provider kling or --provider wavespeed"):
        provider_for(task_id, str(tmp_path / "none.sqlite3"))


def test_the_ledger_knows_the_provider_of_its_tasks(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path) as ledger:
        key = job_key("wavespeed", "kwaivgi/kling-lipsync/text-to-video", {}, {})
        _, lease = ledger.open_job(
            key,
            name="clip.mp4",
            provider="wavespeed",
            endpoint="kwaivgi/kling-lipsync/text-to-video",
            params={},
            inputs={},
            options={},
        )
        assert lease is not None
        for status in (JobStatus.CHECKED, JobStatus.HOSTED, JobStatus.CREATING):
            ledger.update(lease, status=status)  # the legal path to a task id
        ledger.update(lease, status=JobStatus.SUBMITTED, task_id="task-1")
        lease.release()
        fal_id = "0f3c2a9b-e5d1-4b6f-8a7c-6e5d4c3b2a19"  # a shape two providers share
        model = "fal-ai/kling-video/lipsync/audio-to-video"
        _, lease = ledger.open_job(
            job_key("fal", model, {}, {}),
            name="clip.mp4",
            provider="fal",
            endpoint=model,
            params={},
            inputs={},
            options={},
        )
        assert lease is not None
        for status in (JobStatus.CHECKED, JobStatus.HOSTED, JobStatus.CREATING):
            ledger.update(lease, status=status)
        ledger.update(lease, status=JobStatus.SUBMITTED, task_id=fal_id)
        lease.release()
    assert provider_for("task-1", str(path)) == ("wavespeed", None)
    assert provider_for(fal_id, str(path)) == ("fal", None)


def test_missing_keys_name_environment_variables_not_arguments(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("KLING_ACCESS_KEY", "KLING_SECRET_KEY", "WAVESPEED_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    ledger = ["--ledger", str(tmp_path / "l.sqlite3")]
    kling = CliRunner().invoke(main, ["status", "781234567890123456", *ledger])
    assert kling.exit_code == 2
    assert "set KLING_ACCESS_KEY and KLING_SECRET_KEY in the environment" in kling.output
    assert "access_key=" not in kling.output
    ws = CliRunner().invoke(main, ["status", "0f3c2a9be5d14b6f8a7c6e5d4c3b2a19", *ledger])
    assert ws.exit_code == 2
    assert "WaveSpeed needs its key: set WAVESPEED_API_KEY" in ws.output
    assert "api_key=" not in ws.output


# --- progress ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "unit", "text"),
    [
        (0, 10, 0.0, "", "0/10"),
        (5, 10, 0.0, "", "5/10"),
        (30, 100, 3.0, "", "30/100 · 10.0/s · ETA 0:07"),
        (4, 10, 120.0, "jobs", "4/10 jobs · 2.0/min · ETA 3:00"),
        (1, 4000, 1.0, "", "1/4000 · 1.0/s · ETA 1:06:39"),
        (10, 10, 5.0, "", "10/10 · 2.0/s · ETA 0:00"),
    ],
)
def test_eta_text(done: int, total: int, elapsed: float, unit: str, text: str) -> None:
    assert eta_text(done, total, elapsed, unit) == text


class Terminal(io.StringIO):
    """What a terminal's stderr shows a program: everything written, and isatty() true."""

    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_and_clears_after(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    monkeypatch.delenv("TERM", raising=False)
    with Progress(total=3, label="fixing", enabled=True) as bar:
        assert bar.active
        bar.advance()
        bar.advance(2)
    written = screen.getvalue()
    assert "\rfixing 0/3" in written
    assert "fixing 3/3 · " in written  # the last count is always drawn, with rate and ETA
    assert written.endswith("\r")  # the line is wiped: what follows starts clean


@pytest.mark.parametrize(("tty", "enabled"), [(False, True), (True, False)])
def test_progress_is_silent_on_a_pipe_or_when_quiet(
    tty: bool, enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", screen)
    with Progress(total=5, label="check", enabled=enabled) as bar, Steps(enabled) as steps:
        bar.advance(5)
        steps("probe", 0, 5)
        steps("faces", 2, 5)
    assert screen.getvalue() == ""


def test_check_reports_its_steps(media: Media) -> None:
    seen: list[tuple[str, int, int]] = []
    preflight.check([media("ok"), media("short")], on_progress=lambda *a: seen.append(a))
    assert seen[:2] == [("probe", 0, 2), ("probe", 2, 2)]
    faces = [s for s in seen if s[0] == "faces"]
    assert faces == [("faces", 0, 2), ("faces", 1, 2), ("faces", 2, 2)]  # shown before the first


def test_no_progress_reaches_a_pipe(media: Media) -> None:
    result = CliRunner().invoke(main, ["check", str(media("ok")), str(media("short"))])
    assert "\r" not in result.output
    assert "probing" not in result.output


# --- small things -----------------------------------------------------------------------------


def test_fix_walks_a_directory_and_skips_its_own_outputs(media: Media, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(media("short"), folder / "a.mp4")
    shutil.copy(media("ok"), folder / "b.mp4")
    result = CliRunner().invoke(main, ["fix", str(folder), "-f", "json", "--no-face"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [Path(r["source"]).name for r in report["results"]] == ["a.mp4", "b.mp4"]
    assert [r["status"] for r in report["results"]] == ["fixed", "skipped"]
    again = json.loads(
        CliRunner().invoke(main, ["fix", str(folder), "-f", "json", "--no-face"]).stdout
    )
    assert [Path(r["source"]).name for r in again["results"]] == ["a.mp4", "b.mp4"]


def test_check_dir_checks_own_outputs_only_when_included(media: Media, tmp_path: Path) -> None:
    shutil.copy(media("ok"), tmp_path / "a.mp4")
    shutil.copy(media("ok"), tmp_path / "a.fixed.mp4")
    shutil.copy(media("ok"), tmp_path / "a.lipsync.mp4")
    walked = preflight.check([tmp_path], face=False)
    assert [Path(r.name).name for r in walked.results] == ["a.mp4"]
    named = preflight.check([tmp_path / "a.fixed.mp4"], face=False)
    assert [Path(r.name).name for r in named.results] == ["a.fixed.mp4"]
    included = preflight.check([tmp_path], include=["*.mp4"], face=False)
    assert len(included.results) == 3


def test_check_fix_does_not_encode_twice(media: Media, tmp_path: Path) -> None:
    clip = tmp_path / "a.mp4"
    shutil.copy(media("short"), clip)
    first = CliRunner().invoke(main, ["check", str(clip), "--no-face", "--fix"])
    assert first.exit_code == 0, first.output
    fixed = tmp_path / "a.fixed.mp4"
    made = fixed.stat().st_mtime_ns
    second = CliRunner().invoke(main, ["check", str(clip), "--no-face", "--fix"])
    assert second.exit_code == 0, second.output
    assert "already fixed" in second.output
    assert fixed.stat().st_mtime_ns == made
    os.utime(clip)  # a source changed after its fix: fixed again
    third = CliRunner().invoke(main, ["check", str(clip), "--no-face", "--fix"])
    assert third.exit_code == 0, third.output
    assert "already fixed" not in third.output
