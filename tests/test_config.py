"""Project configuration: discovery, strict validation, per-rule overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.checking.config import Config, find_config, load_config
from preflight.model.errors import ConfigError
from preflight.model.findings import Severity


def test_preflight_toml_found_upward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "preflight.toml").write_text(
        'profile = "kling-advanced-lipsync"\ninclude = ["*.mov"]\n'
        '[rules."video.codec"]\nseverity = "error"\n'
        '[rules."job.av_duration"]\nenabled = false\n',
        encoding="utf-8",
    )
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_config() == tmp_path / "preflight.toml"
    config = load_config()
    assert config.profile == "kling-advanced-lipsync"
    assert config.include == ("*.mov",)
    assert config.rules["video.codec"].severity is Severity.ERROR
    assert config.rules["video.codec"].enabled is None
    assert config.rules["job.av_duration"].enabled is False
    assert config.origin.endswith("preflight.toml")


def test_pyproject_tool_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.preflight]\nprofile = "kling-image2video"\n'
        '[tool.preflight.rules."image.aspect"]\nseverity = "warning"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.profile == "kling-image2video"
    assert config.rules["image.aspect"].severity is Severity.WARNING


def test_pyproject_without_table_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "preflight.toml").write_text('profile = "kling-lipsync"\n', encoding="utf-8")
    inner = tmp_path / "pkg"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    monkeypatch.chdir(inner)
    assert find_config() == tmp_path / "preflight.toml"


# every spelling of a `preflight` key under `tool` (found), and files without one (passed over,
# and not parsed at all unless a line could start that table)
_SPELLINGS = [
    ('[tool.preflight]\nprofile = "kling-lipsync"\n', True),
    ('[ tool . "preflight" ]\nprofile = "kling-lipsync"\n', True),
    ('[tool.\'preflight\'.rules."video.codec"]\nseverity = "error"\n', True),
    ('[tool]\npreflight = { profile = "kling-lipsync" }\n', True),
    ('tool = { preflight = { profile = "kling-lipsync" } }\n', True),
    ('tool.preflight.profile = "kling-lipsync"\n', True),
    ('"tool" . preflight = { profile = "kling-lipsync" }\n', True),
    ("[[tool.preflight.extra]]\na = 1\n", True),
    ('[project]\nname = "x"\n[tool.ruff]\nline-length = 100\n', False),
    ('[project]\ndescription = "a tool.preflight helper"\n', False),
    ("[tool.preflightx]\na = 1\n", False),
    ("[tool]\nruff = { line-length = 100 }\n", False),
]


@pytest.mark.parametrize(("text", "found"), _SPELLINGS)
def test_pyproject_table_in_any_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, found: bool
) -> None:
    import tomllib

    from preflight.checking.config import _may_have_table

    path = tmp_path / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    has = "preflight" in tomllib.loads(text).get("tool", {})
    assert has is found  # the table itself says which case this is
    assert _may_have_table(path) or not has  # the pre-filter never passes over a real table
    monkeypatch.chdir(tmp_path)
    assert (find_config() == path) is found


def test_a_broken_pyproject_is_an_error_only_when_it_is_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another tool's invalid pyproject.toml is passed over (it cannot hold the table); one with
    [tool.preflight] that does not parse says so, naming the file."""
    inner = tmp_path / "pkg"
    inner.mkdir()
    (tmp_path / "preflight.toml").write_text('profile = "kling-lipsync"\n', encoding="utf-8")
    (inner / "pyproject.toml").write_text("[project\nname = \n", encoding="utf-8")
    monkeypatch.chdir(inner)
    assert find_config() == tmp_path / "preflight.toml"
    (inner / "pyproject.toml").write_text("[tool.preflight]\nprofile = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"pyproject\.toml: not valid TOML"):
        find_config()


def test_unreadable_pyproject_is_still_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not passed over in silence: the pre-filter lets `_read` say it cannot be read. (Mode 000
    is no test where CI runs as root, so the read itself is made to fail.)"""
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.preflight]\n", encoding="utf-8")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: denied(self))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="cannot read: Permission denied"):
        find_config()


def test_no_config_gives_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    if find_config() is None:  # nothing above tmp_path either
        assert load_config() == Config()


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ("profiel = 'x'\n", "unknown key 'profiel'"),
        ("[rules.'video.codec']\nmax = 3\n", "rule 'video.codec': unknown key 'max'"),
        ("[rules.'video.codex']\nenabled = false\n", "unknown rule 'video.codex'"),
        ("[rules.'video.codec']\nseverity = 'loud'\n", "key 'severity' must be one of"),
        ("[rules.'video.codec']\nenabled = 1\n", "key 'enabled' must be true or false"),
        ("profile = 3\n", "key 'profile' must be a string"),
        ("include = '*.mp4'\n", "key 'include': must be a list of strings"),
        ("[rules\n", "not valid TOML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, body: str, expect: str) -> None:
    path = tmp_path / "preflight.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert expect in str(info.value)
    assert str(path) in str(info.value)


def test_bad_pyproject_key_names_the_table(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.preflight]\nstrictt = true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[tool\.preflight\]: unknown key 'strictt'"):
        load_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_profile_path_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "mine.toml").write_text('extends = "kling-lipsync"\n', encoding="utf-8")
    (tmp_path / "preflight.toml").write_text('profile = "ci/mine.toml"\n', encoding="utf-8")
    sub = tmp_path / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)
    config = load_config()
    assert config.profile == str(tmp_path / "ci" / "mine.toml")
    from preflight.rules.profiles import load_profile

    assert load_profile(config.profile).id == "mine"


def test_tool_preflight_pasted_into_preflight_toml_gets_a_hint(tmp_path: Path) -> None:
    config = tmp_path / "preflight.toml"
    config.write_text('[tool.preflight.rules."face.present"]\nseverity = "warning"\n')
    with pytest.raises(ConfigError, match=r"\[tool.preflight\] is how pyproject.toml spells it"):
        load_config(config)
