"""Profile loading: shipped files, extends, strict validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.model.errors import ConfigError
from preflight.model.findings import Severity
from preflight.rules.profiles import list_profiles, load_profile
from preflight.rules.registry import RULES

SUBMIT = [  # profiles of the providers preflight submits to
    "fal-kling-lipsync-a2v",
    "fal-kling-lipsync-t2v",
    "kling-advanced-lipsync",
    "kling-image2video",
    "kling-lipsync",
    "wavespeed-kling-lipsync-a2v",
    "wavespeed-kling-lipsync-t2v",
]
PEERS = ["fal-latentsync", "heygen-lipsync", "sync-lipsync-2", "videoretalk"]  # check/fix only
SHIPPED = sorted(SUBMIT + PEERS)


def test_list_profiles() -> None:
    assert list_profiles() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_limit_names_its_source(name: str) -> None:
    profile = load_profile(name)
    assert profile.id == name
    assert profile.provider in {"kling", "wavespeed", "sync", "heygen", "fal", "alibaba"}
    assert profile.endpoint.startswith("POST /")
    for rule_id, setting in profile.rules.items():
        if setting.enabled and setting.params and rule_id != "input.readable":
            assert setting.source, f"{name}: {rule_id} has limits but no source"


def test_kling_lipsync_contract_params() -> None:
    p = load_profile("kling-lipsync")
    assert p.param("video.duration", "min") == 2.0
    assert p.param("video.duration", "max") == 10.0
    assert p.param("video.width", "min") == 720
    assert p.param("video.height", "max") == 1920
    assert p.param("video.size", "max_bytes") == 100_000_000
    assert p.param("audio.size", "max_bytes") == 5_000_000
    assert p.param("text.length", "max") == 120
    assert p.param("text.voice_speed", "min") == 0.8
    assert "genshin_klee2" in p.param("text.voice_id", "voices")
    assert p.param("video.container", "allowed") == ("mp4", "mov")
    assert p.param("video.codec", "allowed") == ("h264", "hevc")
    assert p.setting("job.av_duration").severity is Severity.WARNING  # type: ignore[union-attr]
    assert "100000000" in p.setting("video.size").note  # type: ignore[union-attr]
    assert "KL-CN" in p.setting("video.duration").note  # type: ignore[union-attr]
    with pytest.raises(KeyError, match=r"video\.duration"):
        p.param("video.duration", "nope")


def test_extends_overrides_and_inherits() -> None:
    adv = load_profile("kling-advanced-lipsync")
    assert adv.extends == "kling-lipsync"
    assert adv.param("video.duration", "max") == 60.0
    assert adv.param("video.width", "min") == 512
    assert adv.param("video.container", "allowed") == ("mp4", "mov")  # inherited
    assert not adv.enabled("text.length")
    t2v = load_profile("wavespeed-kling-lipsync-t2v")
    assert t2v.param("job.inputs", "modes") == ("text",)
    assert t2v.param("text.voice_id", "language_voices") == {}
    assert len(t2v.param("text.voice_id", "voices")) == 25


def test_user_profile_by_path_extends_shipped(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(
        'extends = "kling-lipsync"\ntitle = "mine"\n'
        '[rules."video.duration"]\nmax = 8\n'
        '[rules."video.codec"]\nseverity = "error"\n',
        encoding="utf-8",
    )
    p = load_profile(mine)
    assert p.id == "mine"
    assert p.title == "mine"
    assert p.provider == "kling"  # inherited
    assert p.param("video.duration", "max") == 8.0
    assert p.param("video.duration", "min") == 2.0
    assert p.setting("video.codec").severity is Severity.ERROR  # type: ignore[union-attr]
    assert p.origin == str(mine)
    # a relative `extends` path is relative to the file
    child = tmp_path / "child.toml"
    child.write_text('extends = "mine.toml"\n', encoding="utf-8")
    loaded = load_profile(str(child))
    assert loaded.param("video.duration", "max") == 8.0
    assert loaded.title == "child (extends mine.toml)"


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ('colour = "red"\n', "unknown key 'colour'"),
        ('[rules."video.duration"]\nmaxx = 3\n', "rule 'video.duration': unknown key 'maxx'"),
        ('[rules."video.duratoin"]\nmax = 3\n', "unknown rule 'video.duratoin'"),
        (
            '[rules."video.duration"]\nmax = "ten"\n',
            "rule 'video.duration': key 'max': must be a number",
        ),
        ('[rules."video.width"]\nmin = 7.5\n', "key 'min': must be an integer"),
        ('[rules."video.size"]\nmax_bytes = true\n', "key 'max_bytes': must be an integer"),
        ('[rules."video.container"]\nallowed = "mp4"\n', "must be a list of strings"),
        ('[rules."video.codec"]\nseverity = "fatal"\n', "key 'severity' must be one of"),
        ('[rules."video.codec"]\nenabled = "yes"\n', "key 'enabled' must be true or false"),
        ("title = 3\n", "key 'title' must be a string"),
        ('extends = "no-such-profile"\n', "unknown profile 'no-such-profile'"),
        ("[rules\n", "not valid TOML"),
        ('[rules."text.voice_id"]\nlanguage_voices = {en = "x"}\n', "table of lists of strings"),
    ],
)
def test_validation_names_file_rule_and_key(tmp_path: Path, body: str, expect: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_profile(bad)
    assert expect in str(info.value)
    assert str(bad) in str(info.value)


def test_extends_cycle_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="cycle"):
        load_profile(tmp_path / "a.toml")


def test_unknown_name_and_missing_path() -> None:
    with pytest.raises(ConfigError, match=r"unknown profile 'kling'.*kling-lipsync"):
        load_profile("kling")
    with pytest.raises(ConfigError, match="profile file not found"):
        load_profile("./nowhere.toml")


def test_input_readable_is_always_present_and_on(tmp_path: Path) -> None:
    f = tmp_path / "off.toml"
    f.write_text('[rules."input.readable"]\nenabled = false\n', encoding="utf-8")
    assert load_profile(f).enabled("input.readable")
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    assert list(load_profile(empty).rules) == ["input.readable"]


def test_every_registered_rule_is_documented() -> None:
    for rule in RULES.values():
        assert rule.doc, f"{rule.id} has no docstring"
        assert rule.summary.endswith("."), rule.id
        for name, param in rule.params.items():
            assert param.type is not None, (rule.id, name)
