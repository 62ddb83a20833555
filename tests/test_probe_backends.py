"""MediaInfo and ffprobe must give the same MediaFacts for every generated fixture.

Fields compared exactly, except:
- durations: within 0.01 s (MediaInfo reports milliseconds); MP3 within 0.06 s (ffprobe trims the
  LAME encoder delay and padding, MediaInfo does not); ADTS within 0.1 s (raw AAC has no index, so
  ffprobe estimates the length from the bit rate while MediaInfo counts frames);
- bit rates: within 3 %, or unknown on one side (Matroska/WebM/FLAC store no stream bit rate; one
  backend computes it, the other does not; the two compute averages over different byte counts);
- ``video.frame_count``: may be unknown to ffprobe (Matroska/WebM keep no per-stream count);
- ``backend`` and ``extra`` (backend-specific details) are not compared.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from preflight.probing import probe

Media = Callable[[str], Path]
SPECS: dict[str, Any] = sys.modules["preflight_fixture_media"].SPECS  # type: ignore[attr-defined]

_DURATION_TOLERANCE = {"mp3": 0.06, "adts": 0.1}
_BIT_RATE_TOLERANCE = 0.03


def _differences(mi: dict[str, Any], ff: dict[str, Any], container: str | None) -> list[str]:
    problems: list[str] = []

    def walk(a: Any, b: Any, where: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if key not in ("backend", "extra"):
                    walk(a.get(key), b.get(key), f"{where}.{key}".lstrip("."))
            return
        leaf = where.rsplit(".", 1)[-1]
        if leaf == "duration" and a is not None and b is not None:
            if abs(a - b) > _DURATION_TOLERANCE.get(container or "", 0.01):
                problems.append(f"{where}: {a} vs {b}")
        elif leaf == "bit_rate":
            if a is not None and b is not None and abs(a - b) > _BIT_RATE_TOLERANCE * max(a, b):
                problems.append(f"{where}: {a} vs {b}")
        elif where == "video.frame_count" and b is None:
            return
        elif a != b:
            problems.append(f"{where}: {a!r} (mediainfo) vs {b!r} (ffprobe)")

    walk(mi, ff, "")
    return problems


@pytest.mark.parametrize("name", sorted(SPECS))
def test_backends_agree(media: Media, name: str) -> None:
    path = media(name)
    mi = probe(path, backend="mediainfo")
    ff = probe(path, backend="ffprobe")
    assert (mi.backend, ff.backend) == ("mediainfo", "ffprobe")
    assert mi.container is not None
    assert _differences(asdict(mi), asdict(ff), mi.container) == []
    # the durations rules use must be known to both whenever there is anything to time
    if mi.image is None:
        assert mi.effective_duration is not None
        assert ff.effective_duration is not None


def test_comparison_notices_a_difference(media: Media) -> None:
    """The comparison itself must fail on a real mismatch (it is not vacuous)."""
    a = asdict(probe(media("ok")))
    b = asdict(probe(media("rotated"), backend="ffprobe"))
    found = _differences(a, b, "mp4")
    assert "video.width: 1280 (mediainfo) vs 720 (ffprobe)" in found
    assert "video.rotation: 0 (mediainfo) vs 90 (ffprobe)" in found
