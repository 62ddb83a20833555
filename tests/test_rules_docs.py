"""Rule documentation comes from the registry: docstrings, `preflight rules`, docs/check.md."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from preflight.cli import main
from preflight.rules.docs import registry_markdown
from preflight.rules.profiles import list_profiles
from preflight.rules.registry import RULES

DOC = Path(__file__).resolve().parent.parent / "docs" / "check.md"


def test_every_rule_has_a_docstring_with_a_summary_line() -> None:
    for rule in RULES.values():
        lines = rule.doc.splitlines()
        assert lines, f"{rule.id}: no docstring"
        assert lines[0].endswith("."), f"{rule.id}: summary line must be a sentence"
        assert len(lines) == 1 or lines[1] == "", f"{rule.id}: blank line after the summary"
        for name, param in rule.params.items():
            assert param.help, f"{rule.id}.{name}: parameter without help"


def test_docs_rules_section_is_generated_from_the_registry() -> None:
    text = DOC.read_text(encoding="utf-8")
    begin = text.index("\n", text.index("<!-- rules:begin")) + 1
    end = text.index("<!-- rules:end -->")
    assert text[begin:end].strip() == registry_markdown().strip(), (
        'docs/check.md is stale: run python -c "from preflight.rules.docs import update_doc; '
        "update_doc('docs/check.md')\""
    )


def test_rules_command_lists_profile_limits_with_sources() -> None:
    runner = CliRunner()
    for name in list_profiles():
        result = runner.invoke(main, ["rules", "--profile", name, "--format", "json"])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.output)
        assert doc["profile"] == name
        assert doc["endpoint"].startswith("POST /")
        rows = doc["rules"]
        assert rows[0]["rule"] == "input.readable"
        for row in rows:
            if row["enabled"] and row["params"] and row["rule"] != "input.readable":
                assert row["source"], (name, row["rule"])
    text = runner.invoke(main, ["rules", "-p", "kling-lipsync"]).output
    assert "video.duration  [error]" in text
    assert "max = 10.0" in text
    assert "source: KL-OLD, SEED-W" in text


def test_rules_command_without_profile_documents_every_rule() -> None:
    result = CliRunner().invoke(main, ["rules", "--format", "json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)["rules"]
    assert [r["rule"] for r in rows] == list(RULES)
    assert all(r["doc"] for r in rows)


def test_rules_command_unknown_profile_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["rules", "--profile", "nope"])
    assert result.exit_code == 2
    assert "unknown profile 'nope'" in result.output
