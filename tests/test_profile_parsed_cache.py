"""The parsed-profile cache: used only for an unchanged file, never trusted beyond its shape."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from preflight.model.errors import ConfigError
from preflight.rules import parsed_cache
from preflight.rules.profiles import load_profile

PROFILE = """extends = "kling-lipsync"
id = "mine"
title = "Mine"
[rules."video.duration"]
max = {max}
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("PREFLIGHT_CACHE_DIR", str(folder))
    return folder


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "profiles-v1").glob("*.json"))


def test_an_edited_profile_is_parsed_again(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(PROFILE.format(max=8), encoding="utf-8")
    assert load_profile(path).param("video.duration", "max") == 8
    assert len(entries(cache)) == 2  # this file and the shipped one it extends
    assert load_profile(path).param("video.duration", "max") == 8  # from the cache
    path.write_text(PROFILE.format(max=9), encoding="utf-8")  # edited: other size and mtime
    assert load_profile(path).param("video.duration", "max") == 9
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000))  # touched only: a miss
    assert load_profile(path).param("video.duration", "max") == 9
    stamps = [json.loads(e.read_bytes())["stat"][0] for e in entries(cache)]
    assert path.stat().st_mtime_ns in stamps  # parsed again and kept under the new stamp


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b"[]", b'{"stat": [1, 2, 3], "data": {}}', b'{"stat": null}', b"\xff\xfe"],
    ids=["empty", "corrupt", "list", "other-stamp", "no-stamp", "binary"],
)
def test_a_bad_entry_is_a_miss(cache: Path, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(PROFILE.format(max=7), encoding="utf-8")
    load_profile(path)
    for entry in entries(cache):
        entry.write_bytes(content)
    assert load_profile(path).param("video.duration", "max") == 7
    for entry in entries(cache):  # and written afresh
        assert json.loads(entry.read_bytes())["stat"][1] > 0


def test_an_entry_is_validated_like_a_fresh_parse(cache: Path, tmp_path: Path) -> None:
    """A tampered entry with the right stamp gives the same error the TOML would."""
    path = tmp_path / "mine.toml"
    path.write_text(PROFILE.format(max=7), encoding="utf-8")
    load_profile(path)
    st = path.stat()
    parsed_cache.put(path, st, {"extends": "kling-lipsync", "rules": {"no.such.rule": {}}})
    with pytest.raises(ConfigError, match=r"no\.such\.rule"):
        load_profile(path)


def test_no_writable_cache_folder_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("PREFLIGHT_CACHE_DIR", str(blocker / "cache"))
    assert load_profile("kling-lipsync").id == "kling-lipsync"
    assert not list(tmp_path.glob("**/*.tmp"))


def test_a_toml_date_is_not_kept(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text("when = 2026-12-02\n", encoding="utf-8")
    parsed_cache.put(path, path.stat(), {"when": __import__("datetime").date(2026, 12, 2)})
    assert entries(cache) == []
    assert parsed_cache.get(path, path.stat()) is None
