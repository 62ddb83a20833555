"""Project configuration: per-rule enablement and severity, and the default profile.

Read from ``preflight.toml`` (top-level keys) or the ``[tool.preflight]`` table of
``pyproject.toml``, whichever is found first walking up from the working directory (a
``pyproject.toml`` without that table is passed over), or from a file given with ``--config``::

    profile = "kling-lipsync"          # used when --profile is not given (a .toml path is
                                       # relative to this file)
    include = ["*.mp4", "*.mov"]       # globs for walking directories
    exclude = ["drafts/**"]

    [rules."video.codec"]              # in pyproject.toml: [tool.preflight.rules."video.codec"]
    severity = "error"
    [rules."job.av_duration"]
    enabled = false

Unknown keys, unknown rule ids and wrong types raise `ConfigError` naming the file and key.
Limits themselves are not configured here: write a profile that ``extends`` a shipped one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from preflight.model.errors import ConfigError
from preflight.model.findings import Severity
from preflight.model.profile import reduce_frozen

__all__ = ["Config", "RuleOverride", "find_config", "load_config", "resolve_config"]

CONFIG_NAME = "preflight.toml"
_KEYS = {"profile", "include", "exclude", "rules"}
_RULE_KEYS = {"enabled", "severity"}


@dataclass(frozen=True, slots=True)
class RuleOverride:
    """What the config changes about one rule; None leaves the profile's choice."""

    enabled: bool | None = None
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """Validated project configuration. ``origin`` is the file it came from ('' for defaults)."""

    profile: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    rules: Mapping[str, RuleOverride] = field(default_factory=lambda: MappingProxyType({}))
    origin: str = ""

    def __reduce__(self) -> tuple[Any, ...]:
        # ``rules`` is a mapping proxy, which pickle refuses; a worker process needs the config
        return reduce_frozen(self)


def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest ``preflight.toml``, or ``pyproject.toml`` with ``[tool.preflight]``, upward."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if _may_have_table(pyproject) and "preflight" in _read(pyproject).get("tool", {}):
            return pyproject
    return None


# Every way TOML can spell a `preflight` key under `tool` starts a line with one of these:
# `[tool]`, `[tool.preflight...]`, `tool = {...}`, `tool.preflight... =` (keys may be quoted,
# with spaces around the dots). A pyproject.toml with none of them (most: [project], [tool.ruff])
# is passed over without loading a TOML parser and parsing the whole file on every command.
_TOOL_TABLE = re.compile(
    rb"""^[ \t]*(?:\[\[?[ \t]*["']?tool["']?[ \t]*(?:\]|\.[ \t]*["']?preflight)"""
    rb"""|["']?tool["']?[ \t]*(?:=|\.[ \t]*["']?preflight))""",
    re.MULTILINE,
)


def _may_have_table(pyproject: Path) -> bool:
    """False when ``pyproject`` cannot hold ``[tool.preflight]`` (or is not a file)."""
    try:
        data = pyproject.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return False
    except OSError:
        return True  # unreadable: `_read` says so, as before
    return _TOOL_TABLE.search(data) is not None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load ``path`` (or the file `find_config` finds; none found gives the defaults)."""
    if path is None:
        found = find_config()
        if found is None:
            return Config()
        path = found
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config file not found: {file}")
    data = _read(file)
    if file.name == "pyproject.toml":
        table = data.get("tool", {}).get("preflight", {})
        where = f"{file}: [tool.preflight]"
    else:
        table = data
        where = str(file)
    return _validate(table, where, str(file))


def resolve_config(config: Config | str | os.PathLike[str] | None = None) -> Config:
    """The one config discovery every command and the library use: a `Config` as it is, a file
    (``--config``) loaded, or None: the nearest ``preflight.toml`` or ``pyproject.toml`` with
    ``[tool.preflight]`` upward from the working directory (`find_config`), else the defaults."""
    if isinstance(config, Config):
        return config
    return load_config(config)


def _read(path: Path) -> dict[str, Any]:
    import tomllib  # only when there is a file to read: most runs have none

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: must be a list of strings (got {value!r})")
    return tuple(value)


def _validate(table: Any, where: str, origin: str) -> Config:
    from preflight.rules.profiles import parse_severity
    from preflight.rules.registry import UnknownRuleError, get

    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    for key in table:
        if key == "tool" and isinstance(table[key], dict) and "preflight" in table[key]:
            raise ConfigError(
                f"{where}: unknown key 'tool': [tool.preflight] is how pyproject.toml spells it; "
                f'in {CONFIG_NAME} write the same keys at the top level ([rules."ID"], not '
                '[tool.preflight.rules."ID"])'
            )
        if key not in _KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(_KEYS))})")
    profile = table.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise ConfigError(f"{where}: key 'profile' must be a string")
    if profile is not None and origin and (profile.endswith(".toml") or "/" in profile):
        # a profile file named in a config file is relative to that file, not to the cwd
        profile = str(Path(origin).parent / Path(profile).expanduser())
    rules_table = table.get("rules", {})
    if not isinstance(rules_table, dict):
        raise ConfigError(f"{where}: key 'rules' must be a table of rule tables")
    rules: dict[str, RuleOverride] = {}
    for rule_id, rule_table in rules_table.items():
        try:
            get(rule_id)
        except UnknownRuleError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        at = f"{where}: rule {rule_id!r}"
        if not isinstance(rule_table, dict):
            raise ConfigError(f"{at}: must be a table")
        for key in rule_table:
            if key not in _RULE_KEYS:
                raise ConfigError(
                    f"{at}: unknown key {key!r} (allowed: enabled, severity; limits belong in a "
                    "profile that extends a shipped one)"
                )
        enabled = rule_table.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise ConfigError(f"{at}: key 'enabled' must be true or false")
        severity = rule_table.get("severity")
        rules[rule_id] = RuleOverride(
            enabled=enabled,
            severity=parse_severity(severity, at) if severity is not None else None,
        )
    return Config(
        profile=profile,
        include=_strings(table["include"], f"{where}: key 'include'") if "include" in table else (),
        exclude=_strings(table["exclude"], f"{where}: key 'exclude'") if "exclude" in table else (),
        rules=MappingProxyType(rules),
        origin=origin,
    )
