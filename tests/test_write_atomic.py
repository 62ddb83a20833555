"""`--output` writes through a temp file and a rename, except onto a device or FIFO: renaming
over ``/dev/null`` (as root) would replace the machine's null device with a plain file."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from preflight.cli.check_cmd import write_atomic
from preflight.model.errors import ConfigError


def test_a_regular_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")
    write_atomic(str(target), "new\n")
    assert target.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["r.json"]


def test_a_fifo_is_written_into_and_stays_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    write_atomic(str(fifo), "report\n")
    reader.join(timeout=30)
    assert got == ["report\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe"]  # no temp file beside it


def test_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot write"):
        write_atomic(str(tmp_path), "x")
