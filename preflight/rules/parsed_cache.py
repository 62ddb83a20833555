"""Profile files as parsed before, kept as JSON in preflight's cache folder.

Every command loads its profile, and parsing a profile's TOML (loading the parser, then ~10 KB
of tables) was the largest single cost of `preflight check one.mp4` after Python and click
themselves (about 4 ms of ~90). A file's parsed tables are kept under ``profiles-v1/`` in the
probe cache's folder (`preflight.probing.cache_dir`), keyed by its resolved path, and used only
while the file's ``st_mtime_ns``, size and inode are the ones they were parsed from: an edited
file is parsed again. JSON, never pickle or marshal (the folder may be shared; decoding JSON
runs nothing). Anything wrong with an entry (missing, unreadable, corrupt, another shape) is a
miss; a folder that cannot be written is no cache at all. What is read is validated exactly as
a fresh parse is (`preflight.rules.profiles`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["get", "put"]

VERSION = 1


def _entry(path: Path) -> Path:
    from preflight.probing import cache_dir

    key = hashlib.sha256(os.fsencode(os.path.realpath(path))).hexdigest()[:32]
    return cache_dir() / f"profiles-v{VERSION}" / f"{key}.json"


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def get(path: Path, st: os.stat_result) -> dict[str, Any] | None:
    """The tables parsed from ``path`` when it looked as ``st`` says, or None."""
    try:
        doc = json.loads(_entry(path).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("stat") != _stamp(st):
        return None
    data = doc.get("data")
    return data if isinstance(data, dict) else None


def put(path: Path, st: os.stat_result, data: dict[str, Any]) -> None:
    """Keep ``data`` (parsed from ``path`` as ``st`` says) for the next run; never raises."""
    try:
        text = json.dumps({"stat": _stamp(st), "data": data}, ensure_ascii=False)
    except (TypeError, ValueError):  # a TOML date or time: parsed afresh each run instead
        return
    entry = _entry(path)
    # a name of its own per writer: two threads of one process may keep the same file at once
    temp = entry.with_name(f".{entry.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, entry)  # readers see the old entry or the new one, never half of one
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()
