"""The jobs file that `preflight check --jobs` and `preflight submit --jobs` both read.

JSON Lines: one JSON object per line; blank lines and lines starting with ``#`` are skipped.
Media paths in a line are relative to the file's directory (to the working directory for ``-``,
standard input). A line that is not a JSON object is kept as an error of its own, so one bad
line never stops the others; a jobs file that cannot be read at all is a `ConfigError`. What
keys a line may have is the reader's business (check and submit take different fields).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preflight.model.errors import ConfigError
from preflight.model.sources import is_url

__all__ = ["JobLine", "JobsFile", "read_jobs_file"]


@dataclass(frozen=True, slots=True)
class JobLine:
    """One line: its JSON object, or why it is not one."""

    lineno: int
    data: dict[str, Any] | None
    error: str | None = None


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
    """Read and split ``path`` (``-`` for standard input). Raises ConfigError if unreadable."""
    file = Path(path)
    try:
        if os.fspath(path) == "-":
            text, label, base = sys.stdin.read(), "<stdin>", Path.cwd()
        else:
            text, label, base = file.read_text(encoding="utf-8"), str(file), file.parent
    except FileNotFoundError:
        raise ConfigError(f"jobs file not found: {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read jobs file {file}: {exc}") from exc
    lines = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            lines.append(_parse(stripped, lineno))
    return JobsFile(label, base, tuple(lines))


def _parse(line: str, lineno: int) -> JobLine:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return JobLine(lineno, None, f"not valid JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(data, dict):
        return JobLine(lineno, None, "a job line must be a JSON object")
    return JobLine(lineno, data)
