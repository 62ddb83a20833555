"""Attack 5: file names must never become workflow commands or terminal control sequences.

Before: with GITHUB_ACTIONS=true and `--format sarif --output F` (the README's CI example) the
text table went to stderr with raw names, so a committed file named
`evil\\n::error file=x,title=INJECTED::pwned\\n::add-mask::zz.mp4` printed real `::error` and
`::add-mask::` lines, and ESC sequences in names reached the terminal.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from preflight.cli import main
from preflight.model.display import printable, printable_lines
from preflight.report.github import escape_data, escape_property
from preflight.submitting.ledger import Ledger

Media = Callable[[str], Path]
INJECTION = "evil\n::error file=x,title=INJECTED::pwned\n::add-mask::zz.mp4"
TERMINAL = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\u2028\u202eevil.mp4"
HOSTILE = [INJECTION, TERMINAL, "cr\rover\x08write\x7f.mp4"]


def _commands(text: str) -> list[str]:
    """Lines the Actions runner would take for workflow commands (it strips leading blanks)."""
    return [line.lstrip() for line in text.splitlines() if line.lstrip().startswith("::")]


def _assert_inert(text: str) -> None:
    assert not _commands(text), _commands(text)
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\r" not in text
    assert "\u2028" not in text
    assert "\u202e" not in text


@pytest.fixture
def hostile_dir(tmp_path: Path, media: Media) -> Path:
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in HOSTILE:
        shutil.copyfile(media("small"), folder / name)  # fails the profile: names get reported
    (folder / f"broken{INJECTION}").write_bytes(b"not media at all")  # an unreadable one too
    return folder


def _run(args: list[str], **env: str) -> Result:
    return CliRunner().invoke(main, args, env={"NO_COLOR": "1", **env})


def test_sarif_to_a_file_under_actions_prints_no_command(hostile_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.sarif"
    result = _run(
        ["check", str(hostile_dir), "--no-face", "--format", "sarif", "--output", str(out)],
        GITHUB_ACTIONS="true",
    )
    assert result.exit_code == 1, result.output
    assert "evil\\n::error file=x" in result.stderr  # the name is shown, escaped
    _assert_inert(result.stdout + result.stderr)


def test_the_github_format_keeps_one_command_per_finding(hostile_dir: Path) -> None:
    result = _run(["check", str(hostile_dir), "--no-face"], GITHUB_ACTIONS="true")
    assert result.exit_code == 1
    commands = _commands(result.stdout)
    assert commands
    assert all(
        c.startswith(("::error file=", "::warning file=", "::notice file=")) for c in commands
    )
    files = set()
    for command in commands:
        head, _, _data = command[2:].partition("::")
        assert ":" not in head  # the name cannot end the properties early
        props = dict(p.split("=", 1) for p in head.split(" ", 1)[1].split(","))
        files.add(_unescape(props["file"]))
    # the runner decodes each file property back to the real name, newlines and all
    assert str(hostile_dir / INJECTION) in files
    assert str(hostile_dir / f"broken{INJECTION}") in files
    assert "\x1b" not in result.stdout


def _unescape(value: str) -> str:
    for code, ch in (("%0A", "\n"), ("%0D", "\r"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        value = value.replace(code, ch)
    return value


def test_the_text_table_shows_names_escaped(hostile_dir: Path) -> None:
    result = _run(["check", str(hostile_dir), "--no-face", "--format", "text"])
    _assert_inert(result.stdout + result.stderr)
    assert "\\x1b]0;owned\\x07" in result.stdout


def test_probe_and_fix_print_names_escaped(hostile_dir: Path, tmp_path: Path) -> None:
    probed = _run(["probe", str(hostile_dir / INJECTION), str(hostile_dir / f"broken{INJECTION}")])
    assert probed.exit_code == 1
    _assert_inert(probed.stdout + probed.stderr)
    assert "zz.mp4" in probed.stdout
    planned = _run(["fix", "--dry-run", str(hostile_dir / TERMINAL), str(hostile_dir / INJECTION)])
    _assert_inert(planned.stdout + planned.stderr)
    assert "owned" in planned.stdout


def test_jobs_lists_names_escaped(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path) as ledger:
        _, lease = ledger.open_job(
            "k" * 64, name=INJECTION, provider="kling", endpoint="lip-sync", params={}, inputs={}
        )
        assert lease is not None
        lease.release()
    result = _run(["jobs", "--ledger", str(path)])
    assert result.exit_code == 0
    _assert_inert(result.stdout + result.stderr)
    assert "zz.mp4" in result.stdout


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain name.mp4", "plain name.mp4"),
        ("émoji 🎬 名前.mp4", "émoji 🎬 名前.mp4"),  # printable non-ASCII stays as it is
        ("a\nb", "a\\nb"),
        ("a\r\tb", "a\\r\\tb"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("bell\x07del\x7f", "bell\\x07del\\x7f"),
        ("c1\x9bcsi", "c1\\x9bcsi"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
    ],
)
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_printable_lines_keeps_breaks_but_no_command() -> None:
    text = "first\n  ::error::x\n\x1b[2Jthird"
    assert printable_lines(text) == "first\n|   ::error::x\n\\x1b[2Jthird"


def test_github_escaping() -> None:
    assert escape_data("a%b\r\nc\x1bd") == "a%25b%0D%0Ac\\x1bd"
    assert escape_property("f,i:l\ne") == "f%2Ci%3Al%0Ae"
