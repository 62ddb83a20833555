"""`preflight.model.atomic`: a target appears whole or not at all, and no temp file stays."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from preflight.model.atomic import (
    atomic_open,
    move_into_place,
    shared_perms,
    temp_beside,
    write_atomic,
)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.mark.parametrize("data", ["héllo\n", b"\x00\x01bytes"])
def test_write_atomic_replaces_the_target_whole(tmp_path: Path, data: str | bytes) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    write_atomic(target, data)
    got = target.read_text("utf-8") if isinstance(data, str) else target.read_bytes()
    assert got == data
    assert leftovers(tmp_path) == []


def test_an_error_inside_the_block_keeps_the_old_target(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")

    class Boom(Exception):
        pass

    def write_half() -> None:
        with atomic_open(target, "w") as fh:
            fh.write("half of the new")
            raise Boom

    with pytest.raises(Boom):
        write_half()
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_permissions_and_modes(tmp_path: Path) -> None:
    target = tmp_path / "sheet.png"
    with atomic_open(target, perms=shared_perms()) as fh:
        fh.write(b"png")
    assert os.stat(target).st_mode & 0o777 == shared_perms()
    with pytest.raises(ValueError, match="new file"), atomic_open(target, "ab"):
        pass
    assert target.read_bytes() == b"png"


def test_move_into_place_for_files_named_at_the_end(tmp_path: Path) -> None:
    tmp = temp_beside(tmp_path)  # a folder: the final name is not known yet
    assert tmp.parent == tmp_path
    tmp.write_bytes(b"content")
    target = move_into_place(tmp, tmp_path / "by-hash.bin")
    assert target.read_bytes() == b"content"
    assert not tmp.exists()
    assert leftovers(tmp_path) == []


def test_a_device_is_written_to_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, b"through the pipe")
    reader.join(timeout=30)
    assert received == [b"through the pipe"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the FIFO, not a file renamed over it
    assert leftovers(tmp_path) == []
