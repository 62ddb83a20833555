"""Load provider profiles (``rules/*.toml``), following ``extends``, validating every key once.

A name such as ``kling-lipsync`` loads the shipped file (``preflight/_profiles/`` in a wheel,
``rules/`` in a source tree); anything that looks like a path loads the user's own file. Unknown
keys, unknown rule ids and wrong types raise `ConfigError` naming the file, the rule and the key.
The format is described in ``rules/README.md``.

A shipped profile may declare ``default_for = ["text", "audio"]``: the modes it is its
provider's default profile for. `default_profile` reads that from the files' headers alone (the
top-level keys before the first table), once per process, for `check --jobs` lines naming a
``provider`` and for `submit` (`preflight.submitting.registry`): the one place this is written.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from preflight.model.errors import ConfigError
from preflight.model.findings import Severity
from preflight.model.pricing import parse_pricing
from preflight.model.profile import Profile, RuleSetting
from preflight.rules.base import Param, ParamType, Rule
from preflight.rules.registry import RULES, UnknownRuleError, get

__all__ = [
    "DEFAULT_MODES",
    "check_param",
    "default_profile",
    "default_profiles",
    "list_profiles",
    "load_profile",
    "profiles_dir",
]

_TOP_KEYS = {
    "id",
    "title",
    "provider",
    "endpoint",
    "description",
    "extends",
    "sources",
    "rules",
    "pricing",
    "default_for",
}
# the modes a shipped profile can be its provider's default for (``default_for``)
DEFAULT_MODES = ("text", "audio", "advanced")
_COMMON_KEYS = {"enabled", "severity", "source", "note"}
_ALWAYS_ON = "input.readable"


def profiles_dir() -> Path:
    """The shipped profiles: inside the installed package, else the source tree's rules/."""
    package = Path(__file__).resolve().parent.parent  # preflight/
    packaged = package / "_profiles"
    if packaged.is_dir():
        return packaged
    return package.parent / "rules"


def list_profiles() -> list[str]:
    """The names of the shipped profiles, sorted."""
    return sorted(p.stem for p in profiles_dir().glob("*.toml"))


def _looks_like_path(value: str | os.PathLike[str]) -> bool:
    if not isinstance(value, str):
        return True
    return value.endswith(".toml") or "/" in value or os.sep in value


def _resolve(name_or_path: str | os.PathLike[str], *, relative_to: Path | None = None) -> Path:
    if _looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        if not path.is_file():
            raise ConfigError(f"profile file not found: {path}")
        return path
    name = str(name_or_path)
    path = profiles_dir() / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(
            f"unknown profile {name!r} (shipped: {', '.join(list_profiles())}; "
            "or give a path to a .toml file)"
        )
    return path


def load_profile(name_or_path: str | os.PathLike[str]) -> Profile:
    """Load a shipped profile by name, or a profile file by path, with its ``extends`` chain."""
    path = _resolve(name_or_path)
    raw = _load_chain(path, seen=())
    return _build(raw, path)


def _read_toml(path: Path) -> dict[str, Any]:
    """``path``'s tables: as parsed on an earlier run while the file is unchanged
    (`parsed_cache`), else parsed now (and kept)."""
    from preflight.rules import parsed_cache

    try:
        st = path.stat()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    found = parsed_cache.get(path, st)
    if found is not None:
        return found
    import tomllib  # only on a miss: a hit needs no parser

    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    parsed_cache.put(path, st, data)
    return data


def _load_chain(path: Path, *, seen: tuple[Path, ...]) -> dict[str, Any]:
    """This file's validated content merged over its parent's (rule tables merged key by key)."""
    resolved = path.resolve()
    if resolved in seen:
        chain = " -> ".join(str(p) for p in (*seen, resolved))
        raise ConfigError(f"{path}: `extends` forms a cycle: {chain}")
    data = _validate_file(_read_toml(path), path)
    parent_ref = data.get("extends")
    if parent_ref is None:
        return data
    try:
        parent_path = _resolve(parent_ref, relative_to=path.parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: key 'extends': {exc}") from None
    merged = _load_chain(parent_path, seen=(*seen, resolved))
    merged["extends"] = parent_ref
    merged.pop("default_for", None)  # a child is not its parent's provider default
    for key, value in data.items():
        if key == "rules":
            rules = {rid: dict(table) for rid, table in merged.get("rules", {}).items()}
            for rid, table in value.items():
                rules.setdefault(rid, {}).update(table)
            merged["rules"] = rules
        elif key == "sources":
            merged["sources"] = {**merged.get("sources", {}), **value}
        elif key != "extends":
            merged[key] = value
    if "id" not in data:
        merged["id"] = path.stem
    if "title" not in data:  # a parent's title would name the wrong profile
        merged["title"] = f"{merged['id']} (extends {parent_ref})"
    return merged


def _validate_file(data: dict[str, Any], path: Path) -> dict[str, Any]:
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(
                f"{path}: unknown key {key!r} (allowed: {', '.join(sorted(_TOP_KEYS))})"
            )
    for key in ("id", "title", "provider", "endpoint", "description", "extends"):
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"{path}: key {key!r} must be a string")
    if "default_for" in data:
        _check_default_for(data, path)
    sources = data.get("sources", {})
    if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
        raise ConfigError(f"{path}: key 'sources' must be a table of strings")
    rules = data.get("rules", {})
    if not isinstance(rules, dict):
        raise ConfigError(f"{path}: key 'rules' must be a table of rule tables")
    out = dict(data)
    out["rules"] = {rid: _validate_rule(path, rid, table) for rid, table in rules.items()}
    if "pricing" in data:
        out["pricing"] = parse_pricing(data["pricing"], f"{path}: [pricing]")
    return out


def _check_default_for(data: Mapping[str, Any], path: Path) -> None:
    value = data["default_for"]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: key 'default_for' must be a list of strings (got {value!r})")
    wrong = [v for v in value if v not in DEFAULT_MODES]
    if wrong or len(set(value)) != len(value):
        raise ConfigError(
            f"{path}: key 'default_for' must name each of {', '.join(DEFAULT_MODES)} at most "
            f"once (got {value!r})"
        )
    if "provider" not in data:
        raise ConfigError(f"{path}: key 'default_for' needs a 'provider' in the same file")


def default_profile(provider: str, mode: str) -> str:
    """The shipped profile declared ``default_for`` ``mode`` of ``provider``; ConfigError
    naming the known providers (or the provider's modes) otherwise."""
    defaults = _defaults()
    if provider not in defaults:
        known = ", ".join(defaults)
        raise ConfigError(f"unknown provider {provider!r} (known: {known})")
    try:
        return defaults[provider][mode]
    except KeyError:
        raise ConfigError(
            f"provider {provider!r} has no default profile for {mode!r} "
            f"(it has: {', '.join(defaults[provider])})"
        ) from None


def default_profiles(provider: str) -> Mapping[str, str]:
    """``provider``'s default profile by mode, as the shipped profiles declare them (may be
    empty)."""
    return _defaults().get(provider, MappingProxyType({}))


_FIRST_TABLE = re.compile(r"^[ \t]*\[", re.MULTILINE)


@functools.cache
def _defaults() -> Mapping[str, Mapping[str, str]]:
    """provider -> mode -> profile, from every shipped file's header; two files claiming the
    same (provider, mode) is a ConfigError naming both."""
    found: dict[str, dict[str, str]] = {}
    where: dict[tuple[str, str], Path] = {}
    for path in sorted(profiles_dir().glob("*.toml")):
        header = _validate_file(_read_header(path), path)
        for mode in header.get("default_for", ()):
            key = (header["provider"], mode)
            if key in where:
                raise ConfigError(
                    f"{path}: default_for {mode!r} of provider {key[0]!r} is already "
                    f"declared by {where[key]}"
                )
            where[key] = path
            found.setdefault(key[0], {})[mode] = path.stem
    return MappingProxyType({p: MappingProxyType(m) for p, m in found.items()})


def _read_header(path: Path) -> dict[str, Any]:
    """A profile's top-level keys: the text before its first table, the whole file only if
    that cut does not parse (a multi-line string holding a line that starts with ``[``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    import tomllib

    first = _FIRST_TABLE.search(text)
    try:
        return tomllib.loads(text[: first.start()] if first else text)
    except tomllib.TOMLDecodeError:
        data = _read_toml(path)
        return {k: v for k, v in data.items() if not isinstance(v, dict)}


def _validate_rule(path: Path, rule_id: str, table: Any) -> dict[str, Any]:
    try:
        rule = get(rule_id)
    except UnknownRuleError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    where = f"{path}: rule {rule_id!r}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    checked: dict[str, Any] = {}
    for key, value in table.items():
        if key == "enabled":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: key 'enabled' must be true or false")
            checked[key] = value
        elif key == "severity":
            checked[key] = parse_severity(value, where)
        elif key in ("source", "note"):
            if not isinstance(value, str):
                raise ConfigError(f"{where}: key {key!r} must be a string")
            checked[key] = value
        elif key in rule.params:
            checked[key] = check_param(rule.params[key], value, f"{where}: key {key!r}")
        else:
            allowed = sorted(_COMMON_KEYS | set(rule.params))
            raise ConfigError(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")
    return checked


def parse_severity(value: Any, where: str) -> Severity:
    """``"error"`` -> Severity.ERROR; anything else a ConfigError at ``where``."""
    try:
        return Severity(value)
    except ValueError:
        raise ConfigError(
            f"{where}: key 'severity' must be one of error, warning, info (got {value!r})"
        ) from None


def check_param(param: Param, value: Any, where: str) -> Any:
    """``value`` checked against ``param``'s type and frozen (lists become tuples)."""
    kind = param.type
    if kind is ParamType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: must be a number (got {value!r})")
        return float(value)
    if kind is ParamType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: must be an integer (got {value!r})")
        return value
    if kind is ParamType.BOOL:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: must be true or false (got {value!r})")
        return value
    if kind is ParamType.STRINGS:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: must be a list of strings (got {value!r})")
        wrong = [v for v in value if param.choices and v not in param.choices]
        if wrong:
            raise ConfigError(
                f"{where}: unknown value(s) {', '.join(map(repr, wrong))} "
                f"(choose from {', '.join(param.choices)})"
            )
        return tuple(value)
    if not isinstance(value, dict) or not all(
        isinstance(v, list) and all(isinstance(s, str) for s in v) for v in value.values()
    ):
        raise ConfigError(f"{where}: must be a table of lists of strings (got {value!r})")
    return MappingProxyType({k: tuple(v) for k, v in value.items()})


def _setting(rule: Rule, table: Mapping[str, Any]) -> RuleSetting:
    params = {k: _frozen_default(v) for k, v in rule.defaults().items()}
    params.update({k: v for k, v in table.items() if k not in _COMMON_KEYS})
    return RuleSetting(
        rule=rule.id,
        enabled=True if rule.id == _ALWAYS_ON else bool(table.get("enabled", True)),
        severity=table.get("severity", rule.default_severity),
        params=MappingProxyType(params),
        source=table.get("source", ""),
        note=table.get("note", ""),
    )


def _frozen_default(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return MappingProxyType({k: tuple(v) for k, v in value.items()})
    return value


def _build(raw: dict[str, Any], path: Path) -> Profile:
    tables: dict[str, Mapping[str, Any]] = dict(raw.get("rules", {}))
    tables.setdefault(_ALWAYS_ON, {})
    ordered = [rid for rid in RULES if rid in tables]  # registry order, stable for reports
    return Profile(
        id=raw.get("id", path.stem),
        title=raw.get("title", raw.get("id", path.stem)),
        provider=raw.get("provider", ""),
        endpoint=raw.get("endpoint", ""),
        rules=MappingProxyType({rid: _setting(RULES[rid], tables[rid]) for rid in ordered}),
        description=raw.get("description", ""),
        origin=str(path),
        extends=raw.get("extends"),
        sources=MappingProxyType(dict(raw.get("sources", {}))),
        pricing=raw.get("pricing"),
    )
