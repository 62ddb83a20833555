"""Matroska rotation: MediaInfo does not report it, so the probe reads ProjectionPoseRoll itself."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from preflight.probing import probe
from preflight.probing._matroska import projection_roll


def _projection(roll: float) -> bytes:
    body = b"\x76\x71\x81\x00" + b"\x76\x75\x88" + struct.pack(">d", roll)
    return b"\x76\x70" + bytes([0x80 | len(body)]) + body


@pytest.mark.parametrize("backend", ["mediainfo", "ffprobe"])
def test_rotated_matroska_shows_portrait(media: Callable[[str], Path], backend: str) -> None:
    facts = probe(media("rotated_mkv"), backend=backend)
    assert facts.container == "matroska"
    assert facts.video is not None
    assert facts.video.rotation == 90
    assert (facts.video.coded_width, facts.video.coded_height) == (1280, 720)
    assert (facts.video.width, facts.video.height) == (720, 1280)


def test_unrotated_matroska_stays_landscape(media: Callable[[str], Path]) -> None:
    facts = probe(media("mkv"), backend="mediainfo")
    assert facts.video is not None
    assert facts.video.rotation == 0
    assert (facts.video.width, facts.video.height) == (1280, 720)


@pytest.mark.parametrize("roll", [-90.0, 90.0, 180.0])
def test_roll_is_read_from_a_projection_element(roll: float) -> None:
    data = b"\x1a\x45\xdf\xa3" + b"\x00" * 50 + _projection(roll) + b"\x00" * 20
    assert projection_roll(io.BytesIO(data)) == roll


def test_chance_id_bytes_without_a_projection_are_ignored() -> None:
    # 0x76 0x70 followed by a size far too large for a Projection, then noise
    data = b"\x00" * 10 + b"\x76\x70\x10\x00\x00\x00" + b"\xff" * 40
    assert projection_roll(io.BytesIO(data)) is None


def test_projection_without_roll_is_none() -> None:
    body = b"\x76\x71\x81\x00"
    data = b"\x76\x70" + bytes([0x80 | len(body)]) + body
    assert projection_roll(io.BytesIO(data)) is None
