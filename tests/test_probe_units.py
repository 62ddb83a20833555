"""The probe's pure parts, table-driven: magic bytes, box walking, geometry, name tables."""

from __future__ import annotations

import io
import struct
from fractions import Fraction

import pytest

from preflight.probing._geometry import (
    display_size,
    normalise_rotation,
    sar_from_float,
    sar_from_ratio,
    sar_text,
)
from preflight.probing._names import (
    container_from_ffprobe,
    container_from_mediainfo,
    mediainfo_audio_codec,
    mediainfo_transfer,
    mediainfo_video_codec,
)
from preflight.probing._sniff import Sniff, sniff


def _box(kind: bytes, payload: bytes = b"", *, size: int | None = None) -> bytes:
    return struct.pack(">I4s", size if size is not None else 8 + len(payload), kind) + payload


def _sniff(data: bytes) -> Sniff:
    return sniff(io.BytesIO(data), len(data))


def _ebml(doctype: bytes, segment_size: int, body: bytes) -> bytes:
    header_body = b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    header = b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(header_body)]) + header_body
    seg_size = bytes([0x01]) + segment_size.to_bytes(7, "big")  # 8-byte vint
    return header + b"\x18\x53\x80\x67" + seg_size + body


FTYP_MP4 = _box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2avc1mp41")
FTYP_MOV = _box(b"ftyp", b"qt  \x00\x00\x02\x00qt  ")
MOOV = _box(b"moov", b"\x00" * 100)
MDAT = _box(b"mdat", b"\x01" * 1000)


@pytest.mark.parametrize(
    ("data", "container"),
    [
        (FTYP_MP4 + MOOV + MDAT, "mp4"),
        (FTYP_MOV + MDAT + MOOV, "mov"),
        (_box(b"ftyp", b"3gp4\x00\x00\x00\x00") + MOOV, "3gp"),
        (_box(b"wide") + MDAT + MOOV, "mov"),  # old QuickTime: no ftyp at all
        (_box(b"ftyp", b"M4A \x00\x00\x00\x00") + MOOV + MDAT, "mp4"),
        (_ebml(b"webm", 10, b"\x00" * 10), "webm"),
        (_ebml(b"matroska", 10, b"\x00" * 10), "matroska"),
        (b"RIFF" + struct.pack("<I", 12) + b"WAVEfmt \x00\x00\x00\x00", "wav"),
        (b"RIFF" + struct.pack("<I", 12) + b"AVI LIST\x00\x00\x00\x00", "avi"),
        (b"RIFF" + struct.pack("<I", 12) + b"WEBPVP8 \x00\x00\x00\x00", "webp"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 8, "mp3"),
        (b"\xff\xfb\x90\x00" * 8, "mp3"),
        (b"\xff\xf1\x50\x80\x02\x1f\xfc" * 4, "adts"),
        (b"fLaC\x00\x00\x00\x22" + b"\x00" * 34, "flac"),
        (b"OggS\x00\x02" + b"\x00" * 30, "ogg"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "jpeg"),
        (b"GIF89a" + b"\x00" * 10, "gif"),
    ],
)
def test_magic_bytes(data: bytes, container: str) -> None:
    found = _sniff(data)
    assert found.container == container
    assert found.problem is None


def test_png_size_comes_from_the_header() -> None:
    ihdr = struct.pack(">II", 300, 750) + b"\x08\x02\x00\x00\x00"
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\x00" * 4
    assert _sniff(data) == Sniff("png", image_size=(300, 750))


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"hello, this is a note\nsecond line\n", True),
        ("unicode text 日本語 ✓\n".encode(), True),
        (bytes(range(256)), False),
        (b"\x00\x01\x02 binary", False),
    ],
)
def test_unknown_content(data: bytes, text: bool) -> None:
    found = _sniff(data)
    assert found.container is None
    assert found.looks_like_text is text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (FTYP_MP4 + MOOV + MDAT[:-10], "ends inside the media data (mdat box), 10 bytes short"),
        (FTYP_MP4 + MDAT[:-10], "index (moov box) is missing"),
        (FTYP_MP4 + MOOV[:-1], "ends inside the index (moov box), 1 bytes short"),
        (FTYP_MP4 + MDAT, "it has no index (moov box)"),
        (FTYP_MP4 + _box(b"free", size=4), "impossible size 4"),
        (FTYP_MP4 + MOOV + b"\x00\x00", "a box header is cut short"),
        (FTYP_MOV + MDAT[:-1], "truncated MOV file"),
        (
            b"RIFF" + struct.pack("<I", 5000) + b"WAVEfmt ",
            "declares 5008 bytes but the file has 16",
        ),
        (_ebml(b"webm", 5000, b"\x00" * 10), "truncated WebM file"),
    ],
)
def test_truncation(data: bytes, message: str) -> None:
    problem = _sniff(data).problem
    assert problem is not None
    assert message in problem


def test_iso_sizes_to_the_end_and_64_bit() -> None:
    to_end = FTYP_MP4 + MOOV + _box(b"mdat", b"\x00" * 50, size=0)
    assert _sniff(to_end).problem is None
    large = struct.pack(">I4sQ", 1, b"mdat", 16 + 40) + b"\x00" * 40
    assert _sniff(FTYP_MP4 + MOOV + large).problem is None
    assert _sniff(FTYP_MP4 + MOOV + large[:-1]).problem is not None


def test_unknown_riff_and_ebml_sizes_are_not_truncation() -> None:
    streaming_wav = b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt " + b"\x00" * 8
    assert _sniff(streaming_wav) == Sniff("wav")
    live = _ebml(b"matroska", 0, b"")[:-8] + b"\x01\xff\xff\xff\xff\xff\xff\xff" + b"\x00" * 8
    assert _sniff(live) == Sniff("matroska")


# --- geometry ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("degrees", "quarter"),
    [(None, 0), (0.0, 0), (90.0, 90), (-90.0, 270), (180.0, 180), (270.0, 270), (450.0, 90),
     (89.6, 90), (-180.0, 180)],
)  # fmt: skip
def test_rotation_normalised(degrees: float | None, quarter: int) -> None:
    assert normalise_rotation(degrees) == quarter


@pytest.mark.parametrize(
    ("value", "sar"),
    [(1.0, None), (1.333, Fraction(4, 3)), (0.889, Fraction(8, 9)), (1.422, Fraction(64, 45)),
     (1.185, Fraction(32, 27)), (0.75, Fraction(3, 4)), (2.0, Fraction(2)), (None, None),
     (0.0, None)],
)  # fmt: skip
def test_sar_from_mediainfo_float(value: float | None, sar: Fraction | None) -> None:
    assert sar_from_float(value) == sar


@pytest.mark.parametrize(
    ("text", "sar"),
    [("4:3", Fraction(4, 3)), ("1:1", None), ("0:1", None), (None, None), ("bad", None),
     ("64:45", Fraction(64, 45))],
)  # fmt: skip
def test_sar_from_ffprobe_ratio(text: str | None, sar: Fraction | None) -> None:
    assert sar_from_ratio(text) == sar
    assert sar_text(sar) == ("1:1" if sar is None else text)


@pytest.mark.parametrize(
    ("coded", "sar", "rotation", "shown"),
    [
        ((1280, 720), None, 0, (1280, 720)),
        ((1280, 720), None, 90, (720, 1280)),
        ((1280, 720), None, 180, (1280, 720)),
        ((1440, 1080), Fraction(4, 3), 0, (1920, 1080)),
        ((1440, 1080), Fraction(4, 3), 270, (1080, 1920)),
        ((720, 576), Fraction(64, 45), 0, (1024, 576)),
        ((None, 720), None, 90, (None, 720)),
    ],
)
def test_display_size(
    coded: tuple[int | None, int | None],
    sar: Fraction | None,
    rotation: int,
    shown: tuple[int | None, int | None],
) -> None:
    assert display_size(*coded, sar, rotation) == shown


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "version", "codec"),
    [("AVC", None, "h264"), ("HEVC", None, "hevc"), ("VP9", None, "vp9"), ("AV1", None, "av1"),
     ("MPEG-4 Visual", None, "mpeg4"), ("MPEG Video", "2", "mpeg2video"),
     ("MPEG Video", "1", "mpeg1video"), ("ProRes", None, "prores"), ("JPEG", None, "mjpeg"),
     ("Something New", None, "something new"), (None, None, None)],
)  # fmt: skip
def test_video_codec_names(fmt: str | None, version: str | None, codec: str | None) -> None:
    assert mediainfo_video_codec(fmt, version) == codec


@pytest.mark.parametrize(
    ("fmt", "kwargs", "codec"),
    [
        ("AAC", {}, "aac"),
        ("MPEG Audio", {"profile": "Layer 3"}, "mp3"),
        ("MPEG Audio", {"profile": "Layer 2"}, "mp2"),
        ("PCM", {"bit_depth": 16, "endianness": "Little", "sign": "Signed"}, "pcm_s16le"),
        ("PCM", {"bit_depth": 24, "endianness": "Big", "sign": "Signed"}, "pcm_s24be"),
        ("PCM", {"bit_depth": 8, "sign": "Unsigned"}, "pcm_u8"),
        ("PCM", {"bit_depth": 32, "codec_id": "3"}, "pcm_f32le"),
        ("PCM", {"bit_depth": 16, "codec_id": "twos"}, "pcm_s16be"),
        ("Opus", {}, "opus"),
        ("E-AC-3", {}, "eac3"),
    ],
)
def test_audio_codec_names(fmt: str, kwargs: dict[str, object], codec: str) -> None:
    assert mediainfo_audio_codec(fmt, **kwargs) == codec  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "transfer"),
    [("PQ", "smpte2084"), ("HLG", "arib-std-b67"), ("BT.709", "bt709"), ("BT.601", "smpte170m"),
     (None, None), ("", None)],
)  # fmt: skip
def test_transfer_names(name: str | None, transfer: str | None) -> None:
    assert mediainfo_transfer(name) == transfer


@pytest.mark.parametrize(
    ("mediainfo", "ffprobe", "sniffed", "container"),
    [
        ("MPEG-4", "mov,mp4,m4a,3gp,3g2,mj2", "mov", "mov"),
        ("MPEG-4", "mov,mp4,m4a,3gp,3g2,mj2", "mp4", "mp4"),
        ("Matroska", "matroska,webm", "matroska", "matroska"),
        ("WebM", "matroska,webm", "webm", "webm"),
        ("ADTS", "aac", None, "adts"),
        ("Wave", "wav", "wav", "wav"),
        ("PNG", "png_pipe", "png", "png"),
        ("JPEG", "image2", "jpeg", "jpeg"),
        ("MPEG Audio", "mp3", "mp3", "mp3"),
    ],
)
def test_both_backends_name_containers_alike(
    mediainfo: str, ffprobe: str, sniffed: str | None, container: str
) -> None:
    hint = Sniff(sniffed)
    assert container_from_mediainfo(mediainfo, hint) == container
    assert container_from_ffprobe(ffprobe, hint) == container
