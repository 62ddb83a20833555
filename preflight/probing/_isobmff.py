"""The MP4/MOV fast path: the facts MediaInfo gives, read from the ``moov`` box in pure Python.

MediaInfo costs about 3 ms of CPU a file, most of it the library setting itself up for any of
its hundred formats; an MP4/MOV's facts sit in one small box (``moov``) that Python walks in a
tenth of that. This reader parses box headers to find ``moov`` (seeking over ``mdat``, wherever
``moov`` is), then only ``moov``, and builds the same `Parsed` record the MediaInfo backend builds,
value for value (``tests/test_probe_isobmff.py`` proves it field by field on clips made by
FFmpeg). It answers only for what it clearly understands:

- at most one video track, H.264 (``avc1``/``avc3`` with its SPS in ``avcC``), progressive; a
  first audio track in AAC-LC at a constant bit rate (``mp4a``, object type 0x40); further audio
  tracks, which the record only counts, in any codec;
- no fragments (``moof``/``mvex``), no track of another kind (text, timecode, chapters), no
  disabled or mirrored track, edit lists of at most one media segment at rate 1;

and returns None for everything else (HEVC, MPEG-4 Visual, PCM, a hostile or odd header, a size
past the end of the file, a count larger than its box), so the probe asks MediaInfo. It never
raises: every read is bounds-checked, every loop is bounded. ``PREFLIGHT_PROBE_FAST=0`` turns it
off (every MP4/MOV then goes through MediaInfo, and reports the same facts).

How MediaInfo's figures are made, and so how they are made here (each checked against it):

- durations are whole milliseconds (rounded): a track's is its one media edit's duration (movie
  time scale) when it has an edit list, else its media header's; the file's is the movie
  header's;
- a video's frame rate is its time scale over the sample duration when all samples last the
  same, else its frame count over its media duration; variable ("VFR") when samples differ (a
  table where only the first or last sample differs is left to MediaInfo, whose call there is
  subtler);
- the video's bit rate is its sample bytes * 8 over its media duration, truncated; the file's is
  its size * 8 over its duration, rounded; an AAC track's is the ``esds`` average, when the
  maximum is within 0.5 % of it (MediaInfo's "CBR"; else it is left to MediaInfo) and the
  measured average agrees with it;
- frame rates and bit rates near a well-known value are stated as it, as MediaInfo does
  (`_nominal`: 24.99 fps -> 25, AAC at 96,112 b/s -> 96,000, H.264 at 56.3 Mb/s -> 56.064);
- picture size (cropped), profile, chroma, bit depth, range and transfer come from the SPS (the
  stream), as MediaInfo's do; the sample aspect ratio from the SPS, else from ``pasp``, rounded to
  3 decimals as MediaInfo prints it; a ``colr`` or ``pasp`` box that disagrees with the SPS is
  left to MediaInfo; the rotation from the track matrix.

The records are equal, field by field, on every clip of the test table and every MP4/MOV
fixture; only ``extra`` (never compared, never reported) differs: MediaInfo's format profile
("Base Media", "QuickTime") is not reproduced.
"""

from __future__ import annotations

import math
import os
import struct
from typing import TYPE_CHECKING, BinaryIO

from preflight.model.facts import AudioStream, VideoStream
from preflight.probing._avc import Sps, parse_sps, transfer_name
from preflight.probing._geometry import display_size, normalise_rotation, sar_from_float, sar_text
from preflight.probing._names import container_from_mediainfo
from preflight.probing._nominal import aac_bit_rate, avc_bit_rate, frame_rate
from preflight.probing._parsed import Parsed
from preflight.probing._sniff import Sniff

if TYPE_CHECKING:
    from fractions import Fraction

__all__ = ["enabled", "read"]

MAX_MOOV_BYTES = 8 << 20  # a bigger index (hours of video) is left to MediaInfo
MAX_TOP_BOXES = 1024
MAX_CHILD_BOXES = 512
MAX_TRACKS = 16
MAX_TABLE_ENTRIES = 4_000_000  # stsz/stts entries: more than a day of 30 fps video
_FRAGMENTED = frozenset({b"moof", b"mfra", b"sidx", b"styp"})


class _Unsure(Exception):
    """Something this reader does not clearly understand: MediaInfo decides."""


def enabled() -> bool:
    """False when ``PREFLIGHT_PROBE_FAST=0`` asks for MediaInfo on every file."""
    return os.environ.get("PREFLIGHT_PROBE_FAST", "1") != "0"


class _Track:
    """One ``trak`` as far as it is read (a plain class: a dataclass costs ~1 ms to define)."""

    __slots__ = (
        "edits", "entries", "entry", "flags", "handler", "matrix", "media_duration",
        "sample_bytes", "sample_count", "shown", "sizes", "stts", "timescale",
    )  # fmt: skip

    def __init__(self) -> None:
        self.handler = b""
        self.flags = 0
        self.matrix: tuple[int, ...] = ()
        self.shown = (0, 0)  # tkhd's width and height (16.16 fixed point)
        self.timescale = 0
        self.media_duration = 0
        self.edits: list[tuple[int, int, int]] = []  # (duration, media time, rate)
        self.entry = b""  # the first sample entry (type + payload)
        self.entries = 0
        self.stts: list[tuple[int, int]] = []
        self.sample_count = 0
        self.sample_bytes = 0
        self.sizes: tuple[int, ...] = ()


def read(fh: BinaryIO, size: int, sniffed: Sniff) -> Parsed | None:
    """The MediaInfo-equal reading of an MP4/MOV, or None when MediaInfo must read it."""
    try:
        moov = _moov_at(fh, sniffed.boxes) if sniffed.boxes else _moov(fh, size)
        return None if moov is None else _build(moov, size, sniffed)
    except (_Unsure, struct.error, IndexError, ValueError, OverflowError, ZeroDivisionError):
        return None
    finally:
        fh.seek(0)


def _header(data: bytes, pos: int, end: int, *, top: bool = False) -> tuple[bytes, int, int]:
    """(type, payload start, box end) of the box at ``pos`` within ``data[:end]``.

    Size 0 ("to the end") is allowed only at the top level, as the standard says."""
    if pos + 8 > end:
        raise _Unsure("box header past its parent")
    length, kind = struct.unpack_from(">I4s", data, pos)
    header = 8
    if length == 1:
        if pos + 16 > end:
            raise _Unsure("box header past its parent")
        length, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
    elif length == 0 and top:
        length = end - pos
    if length < header or pos + length > end:
        raise _Unsure("box size out of bounds")
    return kind, pos + header, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    found: list[tuple[bytes, int, int]] = []
    pos = start
    while pos < end:
        if len(found) >= MAX_CHILD_BOXES:
            raise _Unsure("too many boxes")
        if pos + 8 > end:
            raise _Unsure("box header past its parent")
        length, kind = _BOX.unpack_from(data, pos)
        if 8 <= length <= end - pos:  # the usual box, read here (a third of the reader's time)
            found.append((kind, pos + 8, pos + length))
            pos += length
            continue
        kind, body, pos = _header(data, pos, end)  # a 64-bit size, or an error to raise
        found.append((kind, body, pos))
    return found


_BOX = struct.Struct(">I4s")


def _moov(fh: BinaryIO, size: int) -> bytes | None:
    """The ``moov`` payload, found by hopping over the top-level boxes; None if fragmented."""
    pos, moov = 0, None
    for _ in range(MAX_TOP_BOXES):
        if pos >= size:
            return moov
        fh.seek(pos)
        head = fh.read(16)
        kind, body, end = _header(head + bytes(16 - len(head)), 0, size - pos, top=True)
        if kind in _FRAGMENTED:
            return None
        if kind == b"moov":
            if moov is not None or end - body > MAX_MOOV_BYTES:
                return None
            fh.seek(pos + body)
            moov = fh.read(end - body)
            if len(moov) != end - body:
                return None
        pos += end
    return None


def _moov_at(fh: BinaryIO, boxes: tuple[tuple[bytes, int, int], ...]) -> bytes | None:
    """The ``moov`` payload, from the sniff's walk of the top-level boxes; None if fragmented."""
    if len(boxes) > MAX_TOP_BOXES or any(kind in _FRAGMENTED for kind, _, _ in boxes):
        return None
    found = [(start, end) for kind, start, end in boxes if kind == b"moov"]
    if len(found) != 1 or found[0][1] - found[0][0] > MAX_MOOV_BYTES:
        return None
    start, end = found[0]
    fh.seek(start)
    moov = fh.read(end - start)
    return moov if len(moov) == end - start else None


def _full(data: bytes, start: int) -> tuple[int, int]:
    """(version, payload start after version and flags) of a full box."""
    return data[start], start + 4


def _build(moov: bytes, size: int, sniffed: Sniff) -> Parsed:
    timescale = duration = 0
    tracks: list[_Track] = []
    for kind, start, end in _children(moov, 0, len(moov)):
        if kind == b"mvhd":
            version, at = _full(moov, start)
            if version == 1:
                timescale, duration = struct.unpack_from(">IQ", moov, at + 16)
            else:
                timescale, duration = struct.unpack_from(">II", moov, at + 8)
        elif kind == b"trak":
            if len(tracks) >= MAX_TRACKS:
                raise _Unsure("too many tracks")
            tracks.append(_trak(moov, start, end))
        elif kind == b"mvex":
            raise _Unsure("fragmented")
    return _facts(tracks, timescale, duration, size, sniffed)


def _trak(data: bytes, start: int, end: int) -> _Track:
    track = _Track()
    for kind, s, e in _children(data, start, end):
        if kind == b"tkhd":
            version, at = _full(data, s)
            track.flags = struct.unpack_from(">I", data, s)[0] & 0xFFFFFF
            at += 32 if version == 1 else 20
            track.matrix = struct.unpack_from(">9i", data, at + 16)
            track.shown = struct.unpack_from(">II", data, at + 52)
        elif kind == b"edts":
            for k, es, _ in _children(data, s, e):
                if k == b"elst":
                    track.edits = _elst(data, es)
        elif kind == b"mdia":
            _mdia(data, s, e, track)
    return track


def _elst(data: bytes, start: int) -> list[tuple[int, int, int]]:
    version, at = _full(data, start)
    count = struct.unpack_from(">I", data, at)[0]
    if count > 4:
        raise _Unsure("long edit list")
    fmt, step = (">QqI", 20) if version == 1 else (">IiI", 12)
    return [struct.unpack_from(fmt, data, at + 4 + i * step) for i in range(count)]


def _mdia(data: bytes, start: int, end: int, track: _Track) -> None:
    for kind, s, e in _children(data, start, end):
        if kind == b"mdhd":
            version, at = _full(data, s)
            if version == 1:
                track.timescale, track.media_duration = struct.unpack_from(">IQ", data, at + 16)
            else:
                track.timescale, track.media_duration = struct.unpack_from(">II", data, at + 8)
        elif kind == b"hdlr":
            track.handler = data[s + 8 : s + 12]
        elif kind == b"minf":
            for k, ms, me in _children(data, s, e):
                if k == b"stbl":
                    _stbl(data, ms, me, track)


def _stbl(data: bytes, start: int, end: int, track: _Track) -> None:
    for kind, s, e in _children(data, start, end):
        if kind == b"stsd":
            track.entries = struct.unpack_from(">I", data, s + 4)[0]
            entry = _header(data, s + 8, e)
            track.entry = entry[0] + data[entry[1] : entry[2]]
        elif kind == b"stts":
            count = _count(data, s, e, 8)
            flat = struct.unpack_from(f">{2 * count}I", data, s + 8)
            track.stts = list(zip(flat[::2], flat[1::2], strict=True))
        elif kind == b"stsz":
            sample_size, count = struct.unpack_from(">II", data, s + 4)
            if count > MAX_TABLE_ENTRIES:
                raise _Unsure("too many samples")
            track.sample_count = count
            if sample_size:
                track.sample_bytes = sample_size * count
            else:
                if s + 12 + 4 * count > e:
                    raise _Unsure("sample table past its box")
                track.sizes = struct.unpack_from(f">{count}I", data, s + 12)
                track.sample_bytes = sum(track.sizes)
        elif kind == b"stz2":
            raise _Unsure("compact sample sizes")


def _count(data: bytes, start: int, end: int, step: int) -> int:
    count: int = struct.unpack_from(">I", data, start + 4)[0]
    if count > MAX_TABLE_ENTRIES or start + 8 + step * count > end:
        raise _Unsure("table past its box")
    return count


def _facts(
    tracks: list[_Track], timescale: int, duration: int, size: int, sniffed: Sniff
) -> Parsed:
    videos = [t for t in tracks if t.handler == b"vide"]
    audios = [t for t in tracks if t.handler == b"soun"]
    if len(videos) + len(audios) != len(tracks) or len(videos) > 1 or not tracks:
        raise _Unsure("a track of another kind, or more than one video track")
    if not timescale or not duration:
        raise _Unsure("no movie duration")
    seconds = _ms(duration, timescale)
    if sum(t.sample_bytes for t in tracks) > size:
        raise _Unsure("more sample bytes than the file holds")
    return Parsed(
        container=container_from_mediainfo("MPEG-4", sniffed),
        duration=seconds,
        bit_rate=round(size * 8 / seconds),
        video=_video(videos[0], timescale) if videos else None,
        audio=_audio(audios[0], timescale) if audios else None,
        video_streams=len(videos),
        audio_streams=len(audios),
        extra={
            "format_name": "MPEG-4",
            "format_profile": None,
            "iso_header_sizes": _header_sizes(videos[0]) if videos else (None, None),
        },
    )


def _header_sizes(track: _Track) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """What `_geometry.iso_video_header_sizes` would read again: (tkhd size, sample entry's)."""
    w, h = track.shown
    tkhd = (round(w / 65536), round(h / 65536)) if w and h else None
    ew, eh = struct.unpack_from(">HH", track.entry, 4 + 24)
    return tkhd, ((ew, eh) if ew and eh else None)


def _ms(ticks: int, timescale: int) -> float:
    """A duration as MediaInfo states it: whole milliseconds (rounded), in seconds."""
    if timescale <= 0 or ticks <= 0:
        raise _Unsure("zero duration or time scale")
    return int(ticks * 1000 / timescale + 0.5) / 1000


def _track_seconds(track: _Track, movie_scale: int) -> float:
    """The track's duration: its one media edit's, else its media header's."""
    for track_flags in (track.flags,):
        if not track_flags & 1:
            raise _Unsure("disabled track")
    if not track.edits:
        return _ms(track.media_duration, track.timescale)
    if len(track.edits) != 1:
        raise _Unsure("edit list with more than one segment")
    segment, media_time, rate = track.edits[0]
    if media_time < 0 or rate != 0x10000:
        raise _Unsure("empty or scaled edit")
    return _ms(segment, movie_scale)


def _entry_boxes(track: _Track, skip: int) -> dict[bytes, bytes]:
    """The boxes inside the sample entry (after its ``skip`` fixed bytes), by type."""
    if track.entries != 1:
        raise _Unsure("several sample descriptions")
    body = track.entry[4:]
    return {kind: body[s:e] for kind, s, e in _children(body, skip, len(body))}


def _video(track: _Track, movie_scale: int) -> VideoStream:
    if track.entry[:4] not in (b"avc1", b"avc3") or not track.sample_count:
        raise _Unsure("not H.264")
    boxes = _entry_boxes(track, 78)
    sps = _first_sps(boxes.get(b"avcC", b""))
    sar = _sar(sps, boxes.get(b"pasp"))
    transfer, full = _colour(sps, boxes.get(b"colr"))
    rotation = _rotation(track.matrix)
    shown_w, shown_h = display_size(sps.width, sps.height, sar, rotation)
    seconds = _track_seconds(track, movie_scale)
    return VideoStream(
        codec="h264",
        width=shown_w,
        height=shown_h,
        coded_width=sps.width,
        coded_height=sps.height,
        rotation=rotation,
        sample_aspect_ratio=sar_text(sar),
        profile=sps.profile,
        pix_fmt=_pix_fmt(sps, full),
        bit_depth=sps.bit_depth,
        frame_rate=_frame_rate(track),
        variable_frame_rate=_variable(track),
        duration=seconds,
        bit_rate=avc_bit_rate(int(track.sample_bytes * 8 / _media_seconds(track))),
        frame_count=track.sample_count,
        color_transfer=transfer_name(transfer),
    )


def _first_sps(avcc: bytes) -> Sps:
    if len(avcc) < 8 or avcc[0] != 1 or not avcc[5] & 0x1F:
        raise _Unsure("no SPS in avcC")
    length = struct.unpack_from(">H", avcc, 6)[0]
    if 8 + length > len(avcc):
        raise _Unsure("SPS past its box")
    sps = parse_sps(avcc[8 : 8 + length])
    if sps is None:
        raise _Unsure("SPS not understood")
    return sps


def _sar(sps: Sps, pasp: bytes | None) -> Fraction | None:
    """The stream's sample aspect ratio, else the ``pasp`` box's, as MediaInfo rounds it."""
    container = struct.unpack(">II", pasp[:8]) if pasp is not None and len(pasp) >= 8 else None
    ratios = [r for r in (sps.sar, container) if r is not None]
    if any(not n or not d for n, d in ratios):
        raise _Unsure("zero aspect ratio")
    if len(ratios) == 2 and ratios[0][0] * ratios[1][1] != ratios[1][0] * ratios[0][1]:
        raise _Unsure("stream and container disagree on the aspect ratio")
    if not ratios:
        return None
    return sar_from_float(round(ratios[0][0] / ratios[0][1], 3))


def _colour(sps: Sps, colr: bytes | None) -> tuple[int | None, bool | None]:
    """(transfer, full range): the stream's; a ``colr`` box must say the same or MediaInfo reads."""
    if colr is not None:
        if colr[:4] not in (b"nclx", b"nclc") or len(colr) < 10:
            raise _Unsure("colour box of another kind")
        transfer = struct.unpack_from(">H", colr, 6)[0]
        full = bool(colr[10] & 0x80) if colr[:4] == b"nclx" and len(colr) > 10 else None
        if transfer != sps.transfer or (full is not None and full != bool(sps.full_range)):
            raise _Unsure("stream and container disagree on colour")
    return sps.transfer, sps.full_range


_CHROMA = {1: "420", 2: "422", 3: "444"}


def _pix_fmt(sps: Sps, full: bool | None) -> str:
    suffix = "" if sps.bit_depth == 8 else f"{sps.bit_depth}le"
    if sps.chroma == 0:
        return f"gray{suffix}"
    return f"yuv{'j' if full and not suffix else ''}{_CHROMA[sps.chroma]}p{suffix}"


def _rotation(matrix: tuple[int, ...]) -> int:
    """Clockwise quarter turns of the track matrix; a mirrored or sheared one is not ours."""
    if len(matrix) != 9:
        raise _Unsure("no track header")
    a, b, c, d = matrix[0], matrix[1], matrix[3], matrix[4]
    if a * d - b * c <= 0 or (a and b) or (c and d):
        raise _Unsure("mirrored or not a quarter turn")
    return normalise_rotation(math.degrees(math.atan2(b, a)))


def _deltas(track: _Track) -> list[int]:
    if not track.stts or sum(n for n, _ in track.stts) != track.sample_count:
        raise _Unsure("time table does not match the sample count")
    return [d for n, d in track.stts if n]


def _variable(track: _Track) -> bool:
    deltas = _deltas(track)
    if len(set(deltas)) == 1:
        return False
    if len(set(deltas[1:-1])) <= 1 and len(deltas) <= 3:
        raise _Unsure("only the first or last frame differs")  # MediaInfo's call is subtler
    return True


def _media_seconds(track: _Track) -> float:
    if track.timescale <= 0 or track.media_duration <= 0:
        raise _Unsure("no media duration")
    return track.media_duration / track.timescale


def _frame_rate(track: _Track) -> float:
    deltas = _deltas(track)
    if len(set(deltas)) == 1:
        return round(frame_rate(track.timescale / deltas[0]), 3)
    return round(frame_rate(track.sample_count / _media_seconds(track)), 3)


_AAC_RATES = (
    96000,
    88200,
    64000,
    48000,
    44100,
    32000,
    24000,
    22050,
    16000,
    12000,
    11025,
    8000,
    7350,
)


def _audio(track: _Track, movie_scale: int) -> AudioStream:
    if track.entry[:4] != b"mp4a" or not track.sample_count:
        raise _Unsure("not AAC")
    version = struct.unpack_from(">H", track.entry, 4 + 8)[0]
    if version > 1:
        raise _Unsure("QuickTime sound description v2")
    boxes = _entry_boxes(track, 28 + 16 * version)  # v1 (QuickTime) adds four 32-bit fields
    if version == 1 and b"wave" in boxes:  # QuickTime wraps the esds in a wave box
        wave = boxes[b"wave"]
        boxes = {kind: wave[s:e] for kind, s, e in _children(wave, 0, len(wave))}
    rate, channels, bit_rate = _esds(boxes.get(b"esds", b""))
    measured = track.sample_bytes * 8 / _media_seconds(track)
    if abs(measured - bit_rate) > 0.005 * bit_rate:  # which one MediaInfo states is not clear
        raise _Unsure("the stated average bit rate is not the measured one")
    return AudioStream(
        codec="aac",
        sample_rate=rate,
        channels=channels,
        duration=_track_seconds(track, movie_scale),
        bit_rate=aac_bit_rate(bit_rate),
    )


def _descriptor(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, payload start, payload end) of the MPEG-4 descriptor at ``pos``."""
    tag, pos = data[pos], pos + 1
    length = 0
    for _ in range(4):
        byte, pos = data[pos], pos + 1
        length = length << 7 | byte & 0x7F
        if not byte & 0x80:
            break
    if pos + length > len(data):
        raise _Unsure("descriptor past its box")
    return tag, pos, pos + length


def _esds(esds: bytes) -> tuple[int, int, int]:
    """(sample rate, channels, bit rate) of AAC-LC with a constant bit rate, else unsure."""
    tag, pos, end = _descriptor(esds, 4)
    if tag != 3:
        raise _Unsure("no ES descriptor")
    flags = esds[pos + 2]
    pos += 3 + (2 if flags & 0x80 else 0)
    if flags & 0x60:
        raise _Unsure("URL or OCR stream")
    tag, pos, end = _descriptor(esds, pos)
    if tag != 4 or esds[pos] != 0x40:
        raise _Unsure("not MPEG-4 audio")
    max_rate, avg_rate = struct.unpack_from(">II", esds, pos + 5)
    if not avg_rate or (max_rate and not avg_rate <= max_rate <= avg_rate * 1.005):
        raise _Unsure("variable or unknown bit rate")  # MediaInfo then reports another figure
    tag, pos, end = _descriptor(esds, pos + 13)
    if tag != 5 or end - pos < 2:
        raise _Unsure("no AudioSpecificConfig")
    asc = int.from_bytes(esds[pos : pos + 2], "big")
    kind, index, config = asc >> 11, (asc >> 7) & 0xF, (asc >> 3) & 0xF
    if kind != 2 or index >= len(_AAC_RATES) or not 1 <= config <= 7:
        raise _Unsure("not plain AAC-LC")
    return _AAC_RATES[index], 8 if config == 7 else config, avg_rate
