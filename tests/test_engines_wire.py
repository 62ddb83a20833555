"""Check results on the way back from workers (`preflight.engines.wire`): the encoding loses
nothing, and a batch's report is the same byte for byte on every engine."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from dask_cluster import Cluster, start_cluster

from preflight.engines import Engine, check_batch
from preflight.engines.items import CheckItemResult, check_chunk, chunk_results
from preflight.engines.wire import decode_checks, encode_checks
from preflight.model.facts import AudioStream, ImageInfo, MediaFacts, VideoStream
from preflight.model.findings import Finding, Severity
from preflight.report import render
from preflight.report.model import Result, Timeline

Media = Callable[[str], Path]
cluster = pytest.fixture(scope="module")(start_cluster)

_VIDEO = VideoStream(
    "h264", 1080, 1920, 1920, 1080, rotation=90, sample_aspect_ratio="4:3", profile="High",
    pix_fmt="yuv420p", bit_depth=8, frame_rate=29.97, variable_frame_rate=True, duration=math.nan,
    bit_rate=None, frame_count=10**20, color_transfer="smpte2084",
)  # fmt: skip
_FACTS = [
    MediaFacts("ok.mp4", "native", "mp4", ".mp4", 1234, 4.0, 900_000, _VIDEO,
               AudioStream("aac", 48000, 2, 4.0, 128_000), None, 1, 3, 1,
               extra={"geometry_conflict": {"tkhd": [1920, 1080]}, "brands": ("isom", "mp42")}),
    MediaFacts("odd \udcff name\n\t\"q\".mov", "ffprobe", None, "", 0, math.inf, None),
    MediaFacts("voice.mp3", "mediainfo", "mp3", ".mp3", 5, None, None, None,
               AudioStream(None), None, 0, 1, 0, extra={}),
    MediaFacts("π.png", "native", "png_pipe", ".png", 7, None, None, None, None,
               ImageInfo("png", 200, 200)),
]  # fmt: skip
_FINDINGS = [
    Finding("video.duration", Severity.ERROR, "too short", 1.0, (2.0, 10.0), True),
    Finding("audio.present", Severity.WARNING, "no audio", None, None),
    Finding("face.visible", Severity.INFO, "ünïcode \udcfe", [0.5, math.nan], {"min": 0.7},
            False, ((0.0, 1.5), (2.0, math.inf))),
    Finding("video.bitrate", Severity.ERROR, "big", -0.0, 2**70, True),
]  # fmt: skip


def _rows() -> list[tuple[int, Result, str, float]]:
    timeline = Timeline(4.0, {"face.visible": ((0.0, 1.5, "pass"), (1.5, 4.0, "fail"))})
    return [
        (0, Result("ok.mp4", False, tuple(_FINDINGS), {"video": _FACTS[0]},
                   timeline=timeline), "", 0.25),
        (7, Result(_FACTS[1].source, True, (), {"video": _FACTS[1], "audio": _FACTS[2],
                   "image": _FACTS[3]}, "jobs.jsonl", 3), "", 0.0),
        (2, Result("gone.mp4", False, (Finding("input.readable", Severity.ERROR,
                   "could not be checked (KeyError: 'x')"),), {}), "KeyError: 'x'", 1e-9),
        (3, Result("empty", True, timeline=Timeline(math.nan)), "", 0.5),
    ]  # fmt: skip


def test_the_encoding_gives_back_every_field_and_type() -> None:
    rows = _rows()
    got = decode_checks(encode_checks(rows))
    assert repr(got) == repr(rows)  # every field, NaN and the facts' extra included
    assert got[2] == rows[2]  # (NaN is not equal to itself: the rest is compared by repr)
    for (_, mine, _, _), (_, theirs, _, _) in zip(got, rows, strict=True):
        for a, b in zip(mine.findings, theirs.findings, strict=True):
            assert type(a.severity) is Severity
            assert type(a.measured) is type(b.measured)
            assert type(a.limit) is type(b.limit)
            assert type(a.ranges) is tuple
        for role, facts in mine.facts.items():
            assert type(facts) is MediaFacts
            assert facts.extra == theirs.facts[role].extra
    video = got[0][1].facts["video"].video
    assert video is not None
    assert video.rotation == 90
    assert math.isnan(video.duration or 0.0)
    assert video.frame_count == 10**20
    assert got[0][1].facts["video"].audio_streams == 3
    assert got[0][1].facts["video"].extra["brands"] == ("isom", "mp42")


def test_a_value_the_encoding_cannot_hold_falls_back_whole_and_is_the_same() -> None:
    odd = Finding("x.rule", Severity.WARNING, "a fraction", Fraction(1, 3), None)
    rows = [*_rows(), (9, Result("f.mp4", True, (odd,)), "", 0.1)]
    blob = encode_checks(rows)
    assert blob[:1] == b"P"
    assert repr(decode_checks(blob)) == repr(rows)


def test_a_blob_that_is_not_ours_is_refused() -> None:
    with pytest.raises(ValueError, match="not an encoded chunk"):
        decode_checks(b"{}")


def test_a_chunk_goes_back_as_one_blob_and_comes_back_as_its_results(media: Media) -> None:
    from preflight.checking.check import plan
    from preflight.engines.items import CheckItem, check_results
    from preflight.rules.profiles import load_profile

    profile = load_profile("kling-lipsync")
    items = [
        CheckItem(i, p, face=False, cache=False)
        for i, p in enumerate(plan([str(media("ok")), "/nonexistent/x.mp4"], profile))
    ]
    blob = check_chunk(items, profile, None)
    assert isinstance(blob, bytes)
    got = chunk_results(blob)
    want = check_results(items, profile, None)
    assert all(isinstance(r, CheckItemResult) for r in got)
    assert [(r.index, r.result, r.error) for r in got] == [
        (r.index, r.result, r.error) for r in want
    ]


def _batch(media: Media, folder: Path) -> list[str]:
    odd = folder / "odd name ü 'q'.mp4"
    shutil.copyfile(media("ok"), odd)
    names = ("ok", "short", "mkv", "small", "noaudio", "mp3", "rotated", "jpg", "vfr", "lying")
    return [*(str(media(n)) for n in names), str(odd), str(folder / "missing.mp4")]


def test_a_batch_report_is_byte_identical_on_every_engine(
    cluster: Cluster, media: Media, tmp_path: Path
) -> None:
    inputs = _batch(media, tmp_path)
    runs: dict[str, Any] = {
        name: check_batch(inputs, engine=engine, cache=False, face=False)
        for name, engine in (
            ("serial", Engine("serial")),
            ("local", Engine("local", workers=2)),
            ("dask", Engine("dask", cluster.address)),
        )
    }
    serial = render(runs["serial"], "json")
    assert '"ok": false' in serial
    assert "missing.mp4" in serial  # errors as data, in the report
    for name in ("local", "dask"):
        assert render(runs[name], "json") == serial, name
        assert runs[name].exit_code == runs["serial"].exit_code == 1
        assert runs[name].results == runs["serial"].results
