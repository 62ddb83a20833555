"""Which profile a provider's mode is checked against is written once, as ``default_for`` in the
shipped profiles; the providers registry, `submit` and ``check --jobs`` all read it from there."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from preflight.checking.resolve import profile_for
from preflight.model.errors import ConfigError
from preflight.rules import profiles
from preflight.rules.profiles import (
    default_profile,
    default_profiles,
    list_profiles,
    load_profile,
)
from preflight.submitting.model import SubmitRequest
from preflight.submitting.registry import REGISTRY


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_registry_provider_has_a_default_for_text_and_audio(name: str) -> None:
    entry = REGISTRY[name]
    for mode in ("text", "audio"):
        profile = load_profile(entry.profile(mode))
        assert profile.provider == name
        assert mode in profile.param("job.inputs", "modes", ())  # the profile takes that mode
        assert profile_for(name, mode) == entry.profile(mode)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_advanced_only_where_the_client_has_it(name: str) -> None:
    entry = REGISTRY[name]
    offers = hasattr(entry.client_class(), "create_advanced_lip_sync")
    assert ("advanced" in entry.profiles) is offers
    if offers:
        profile = load_profile(entry.profile("advanced"))
        assert profile.provider == name
        assert profile.param("job.inputs", "modes", ()) == ("audio",)


def test_every_declared_default_belongs_to_a_registry_provider() -> None:
    providers = {load_profile(name).provider for name in list_profiles()}
    assert {"heygen", "sync", "alibaba"} <= providers  # peers: checked, never submitted to
    assert {p for p in providers if default_profiles(p)} == set(REGISTRY)


def test_the_defaults_are_what_submit_always_used() -> None:
    assert {name: dict(entry.profiles) for name, entry in REGISTRY.items()} == {
        "kling": {
            "text": "kling-lipsync",
            "audio": "kling-lipsync",
            "advanced": "kling-advanced-lipsync",
        },
        "wavespeed": {
            "text": "wavespeed-kling-lipsync-t2v",
            "audio": "wavespeed-kling-lipsync-a2v",
        },
        "fal": {"text": "fal-kling-lipsync-t2v", "audio": "fal-kling-lipsync-a2v"},
    }
    request = SubmitRequest(video="v.mp4", provider="wavespeed", audio="a.wav")
    assert request.profile_name == "wavespeed-kling-lipsync-a2v"


def test_an_unknown_provider_or_mode_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown provider 'replicate' \(known: .*kling"):
        profile_for("replicate", "text")
    with pytest.raises(ConfigError, match="'wavespeed' has no default profile for 'advanced'"):
        default_profile("wavespeed", "advanced")


def test_default_for_is_not_inherited_through_extends() -> None:
    # fal-kling-lipsync-t2v extends fal-kling-lipsync-a2v, which is the default for audio
    assert default_profile("fal", "audio") == "fal-kling-lipsync-a2v"
    assert default_profile("fal", "text") == "fal-kling-lipsync-t2v"


@pytest.fixture
def shipped_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A writable copy of the shipped profiles, read instead of them (cache cleared)."""
    copy = tmp_path / "rules"
    shutil.copytree(profiles.profiles_dir(), copy)
    monkeypatch.setattr(profiles, "profiles_dir", lambda: copy)
    profiles._defaults.cache_clear()
    yield copy
    profiles._defaults.cache_clear()


def test_two_profiles_claiming_one_mode_fail_loudly(shipped_copy: Path) -> None:
    path = shipped_copy / "kling-image2video.toml"
    text = path.read_text()
    path.write_text(
        text.replace('provider = "kling"\n', 'provider = "kling"\ndefault_for = ["text"]\n')
    )
    with pytest.raises(ConfigError, match=r"default_for 'text' of provider 'kling' is already"):
        default_profile("fal", "text")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('["video"]', "must name each of text, audio, advanced at most once"),
        ('["text", "text"]', "must name each of .* at most once"),
        ('"text"', "must be a list of strings"),
    ],
)
def test_a_wrong_default_for_names_the_file(shipped_copy: Path, value: str, message: str) -> None:
    path = shipped_copy / "kling-lipsync.toml"
    path.write_text(path.read_text().replace('["text", "audio"]', value, 1))
    with pytest.raises(ConfigError, match=f"kling-lipsync.toml: key 'default_for' {message}"):
        default_profile("kling", "text")
    with pytest.raises(ConfigError, match="key 'default_for'"):
        load_profile(path)
