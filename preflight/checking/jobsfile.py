"""The one jobs file that `check --jobs`, `fix --jobs FILE` and `submit --jobs` all read.

Two spellings of one schema:

- JSON Lines (``*.jsonl``, ``*.json``, or anything whose first line starts with ``{``): one JSON
  object per line; blank lines and lines starting with ``#`` are skipped.
- CSV (``*.csv``, or standard input whose first line is not a JSON object): a header row naming
  the columns, then one job per row; an empty cell is a field not given.

The fields (`FIELDS`) are the job itself -- ``video``, ``audio``, ``image``, ``prompt``,
``negative_prompt``, ``text``, ``voice_id``, ``voice_language``, ``voice_speed``, ``profile``,
``provider`` -- where it goes -- ``out``, ``external_task_id``, ``callback_url`` -- and ``name``
(what reports call it). `RUN_OPTIONS` (``fix``, ``face``, ``upload_to``) say how submit runs it.
Each command reads every field and uses those it has a use for (``check`` ignores ``out``), so
one file serves the whole path. Media paths (and ``out``) are relative to the file's directory
(to the working directory for ``-``, standard input). A line that is not a valid job is kept as
an error of its own, so one bad line never stops the others; a jobs file that cannot be read at
all is a `ConfigError`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from preflight.model.errors import ConfigError
from preflight.model.sources import is_url

__all__ = ["FIELDS", "RUN_OPTIONS", "JobLine", "JobSpec", "JobsFile", "read_jobs_file"]

# field -> type; the one list of what a job line may say
FIELDS: dict[str, type] = {
    "name": str,
    "video": str,
    "audio": str,
    "image": str,
    "prompt": str,
    "negative_prompt": str,
    "text": str,
    "voice_id": str,
    "voice_language": str,
    "voice_speed": float,
    "profile": str,
    "provider": str,
    "out": str,
    "external_task_id": str,
    "callback_url": str,
}
RUN_OPTIONS: dict[str, type] = {"fix": bool, "face": bool, "upload_to": str}
_PATHS = ("video", "audio", "image", "out")
_TRUE, _FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One validated job line: every field optional, media paths already resolved."""

    name: str | None = None
    video: str | None = None
    audio: str | None = None
    image: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    text: str | None = None
    voice_id: str | None = None
    voice_language: str | None = None
    voice_speed: float | None = None
    profile: str | None = None
    provider: str | None = None
    out: str | None = None
    external_task_id: str | None = None
    callback_url: str | None = None
    fix: bool | None = None
    face: bool | None = None
    upload_to: str | None = None

    def given(self) -> dict[str, Any]:
        """The fields this line sets (None left out)."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}


@dataclass(frozen=True, slots=True)
class JobLine:
    """One line: its validated job, or why it is not one. ``data`` is the raw object read."""

    lineno: int
    data: dict[str, Any] | None
    error: str | None = None
    spec: JobSpec | None = None


@dataclass(frozen=True, slots=True)
class JobsFile:
    """The file as read: ``label`` names it in messages, ``base`` anchors relative paths."""

    label: str
    base: Path
    lines: tuple[JobLine, ...]

    def resolve(self, source: str) -> str:
        """A media field's value: URLs as they are, paths relative to the jobs file."""
        return source if is_url(source) else str(self.base / source)


def read_jobs_file(path: str | os.PathLike[str]) -> JobsFile:
    """Read, split and validate ``path`` (``-`` for standard input). ConfigError if unreadable."""
    file = Path(path)
    try:
        if os.fspath(path) == "-":
            text, label, base = sys.stdin.read(), "<stdin>", Path.cwd()
        else:
            text, label, base = file.read_text(encoding="utf-8"), str(file), file.parent
    except FileNotFoundError:
        raise ConfigError(f"jobs file not found: {file}") from None
    except IsADirectoryError:
        raise ConfigError(f"jobs file {file} is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read jobs file {file}: {exc}") from exc
    raw = _csv_lines(text, label) if _is_csv(label, text) else _json_lines(text)
    jobs = JobsFile(label, base, ())
    lines = tuple(_validated(line, jobs) for line in raw)
    return JobsFile(label, base, lines)


def _is_csv(label: str, text: str) -> bool:
    suffix = Path(label).suffix.lower()
    if suffix == ".csv":
        return True
    if suffix in (".jsonl", ".json", ".ndjson"):
        return False
    first = next((s for line in text.splitlines() if (s := line.strip())), "")
    return bool(first) and not first.startswith(("{", "#", "[")) and "," in first


def _json_lines(text: str) -> list[JobLine]:
    lines = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            lines.append(_parse(stripped, lineno))
    return lines


def _parse(line: str, lineno: int) -> JobLine:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return JobLine(lineno, None, f"not valid JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(data, dict):
        return JobLine(lineno, None, "a job line must be a JSON object")
    return JobLine(lineno, data)


def _csv_lines(text: str, label: str) -> list[JobLine]:
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    lines = []
    for row in reader:
        lineno = reader.line_num
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [cell.strip() for cell in row]
            unknown = [h for h in header if h not in FIELDS and h not in RUN_OPTIONS]
            if unknown:
                raise ConfigError(
                    f"jobs file {label}: unknown column(s) {', '.join(map(repr, unknown))} in "
                    f"the header row (allowed: {', '.join([*FIELDS, *RUN_OPTIONS])})"
                )
            continue
        if len(row) > len(header):
            lines.append(JobLine(lineno, None, f"{len(row)} cells for {len(header)} columns"))
            continue
        data = {key: cell for key, cell in zip(header, row, strict=False) if cell.strip()}
        lines.append(JobLine(lineno, _typed(data)))
    return lines


def _typed(data: dict[str, str]) -> dict[str, Any]:
    """CSV cells are text: numbers and booleans are read here, so one validation fits both."""
    typed: dict[str, Any] = {}
    for key, cell in data.items():
        kind = FIELDS.get(key) or RUN_OPTIONS.get(key)
        value: Any = cell.strip()
        if kind is float:
            with contextlib.suppress(ValueError):  # left as text: the validation names the key
                value = float(value)
        elif kind is bool and value.lower() in _TRUE | _FALSE:
            value = value.lower() in _TRUE
        typed[key] = value
    return typed


def _validated(line: JobLine, jobs: JobsFile) -> JobLine:
    if line.data is None:
        return line
    try:
        spec = _spec(line.data, jobs)
    except ValueError as exc:
        return JobLine(line.lineno, line.data, str(exc))
    return JobLine(line.lineno, line.data, None, spec)


def _spec(data: Mapping[str, Any], jobs: JobsFile) -> JobSpec:
    values: dict[str, Any] = {}
    for key, value in data.items():
        kind = FIELDS.get(key) or RUN_OPTIONS.get(key)
        if kind is None:
            raise ValueError(f"unknown key {key!r} (allowed: {', '.join([*FIELDS, *RUN_OPTIONS])})")
        if value is None:
            continue
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"key {key!r} must be a number")
            value = float(value)
        elif kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"key {key!r} must be true or false")
        elif not isinstance(value, str):
            raise ValueError(f"key {key!r} must be a string")
        if key in _PATHS and value:
            value = jobs.resolve(value)
        values[key] = value
    return JobSpec(**values)
