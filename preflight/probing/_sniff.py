"""What a file is, from its first bytes and its top-level structure, never from its name.

``sniff`` reads the head of a file (and, for box/chunk formats, walks the top-level boxes or
chunks by seeking) and says which container it is and whether its structure is cut short. Both
probe backends use it: MediaInfo's ``Format`` and ffprobe's ``format_name`` name a family
("MPEG-4", "mov,mp4,m4a,3gp,3g2,mj2"), and the sniff decides mp4 vs mov (ftyp brand) and
matroska vs webm (EBML DocType). A structural check that fails (an ISO box or RIFF chunk that
claims more bytes than the file has, no ``moov`` box) is a truncated file: an input error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["HEAD_BYTES", "Sniff", "sniff"]

HEAD_BYTES = 4096
_MAX_BOXES = 10_000  # a sane file has a handful of top-level boxes; stop walking garbage early
_ISO_TOP_LEVEL = {
    b"ftyp",
    b"moov",
    b"mdat",
    b"free",
    b"skip",
    b"wide",
    b"uuid",
    b"pdin",
    b"moof",
    b"mfra",
    b"meta",
    b"styp",
    b"sidx",
    b"pnot",
    b"prfl",
    b"junk",
    b"PICT",
    b"emsg",
    b"prft",
}
_IMAGE = {"jpeg", "png", "gif", "webp", "bmp", "tiff"}


@dataclass(frozen=True, slots=True)
class Sniff:
    """What the bytes say. ``container`` uses FFmpeg's short names; None when unrecognised.

    ``problem`` is a human reason the file cannot be read as it stands (truncated, not media),
    or None. ``brand`` is the ISO ftyp major brand, when there is one.
    """

    container: str | None
    problem: str | None = None
    brand: str | None = None
    looks_like_text: bool = False
    image_size: tuple[int, int] | None = None  # from a PNG's IHDR, for builds without a decoder
    # an ISO file's top-level boxes (type, payload start, end) when the walk reached its end
    # cleanly: the MP4/MOV fast path goes straight to moov instead of walking them again
    boxes: tuple[tuple[bytes, int, int], ...] = ()

    @property
    def is_image(self) -> bool:
        return self.container in _IMAGE


def sniff(fh: BinaryIO, size: int) -> Sniff:
    """Identify the container of the open binary file ``fh`` of ``size`` bytes."""
    fh.seek(0)
    head = fh.read(HEAD_BYTES)
    if len(head) >= 8 and (head[4:8] in _ISO_TOP_LEVEL):
        return _iso(fh, size, head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _ebml(head, size)
    if head[:4] in (b"RIFF", b"RF64") and len(head) >= 12:
        return _riff(head, size)
    simple = _simple(head)
    if simple == "png" and len(head) >= 24 and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return Sniff(simple, image_size=(width, height))
    if simple is not None:
        return Sniff(simple)
    return Sniff(None, looks_like_text=_is_text(head))


def _simple(head: bytes) -> str | None:
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"BM") and len(head) >= 18:
        return "bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith(b"ID3"):
        return "mp3"  # ID3 usually fronts MP3; MediaInfo/ffprobe confirm the stream inside
    if len(head) >= 188 * 2 and head[0] == 0x47 and head[188] == 0x47:
        return "mpegts"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        layer = (head[1] >> 1) & 0x03
        if layer == 0:
            return "adts" if head[1] & 0xF6 == 0xF0 else None
        return "mp3" if layer == 1 else "mp2" if layer == 2 else None
    return None


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t\f\v" for ch in text)


def _iso(fh: BinaryIO, size: int, head: bytes) -> Sniff:
    brand: str | None = None
    if head[4:8] == b"ftyp" and len(head) >= 12:
        brand = head[8:12].decode("latin-1")
    container = _iso_container(brand)
    offset = 0
    seen: set[bytes] = set()
    boxes: list[tuple[bytes, int, int]] = []
    for _ in range(_MAX_BOXES):
        if offset >= size:
            break
        if offset + 16 <= len(head):
            header = head[offset : offset + 16]  # already read: no seek, no system call
        else:
            fh.seek(offset)
            header = fh.read(16)
        if len(header) < 8:
            return Sniff(container, _cut("a box header", size), brand)
        box_size, kind = struct.unpack(">I4s", header[:8])
        if box_size == 1:
            if len(header) < 16:
                return Sniff(container, _cut("a box header", size), brand)
            box_size = struct.unpack(">Q", header[8:16])[0]
        elif box_size == 0:
            box_size = size - offset  # "to the end of the file"
        if box_size < 8:
            return Sniff(
                container,
                f"corrupt {_label(container)} file: box {_name(kind)} at byte "
                f"{offset} has an impossible size {box_size}",
                brand,
            )
        seen.add(kind)
        if offset + box_size > size:
            return Sniff(
                container, _iso_cut(container, kind, seen, offset + box_size - size), brand
            )
        header_size = 16 if header[:4] == b"\x00\x00\x00\x01" else 8
        boxes.append((kind, offset + header_size, offset + box_size))
        offset += box_size
    if b"moov" not in seen and b"moof" not in seen:
        return Sniff(
            container,
            f"truncated or unfinished {_label(container)} file: it has no index "
            "(moov box); it was cut short or the recording never finished",
            brand,
        )
    return Sniff(container, None, brand, boxes=tuple(boxes) if offset >= size else ())


def _iso_container(brand: str | None) -> str:
    if brand is None or brand == "qt  ":
        return "mov"  # QuickTime files may have no ftyp at all
    if brand.startswith("3gp"):
        return "3gp"
    if brand.startswith("3g2"):
        return "3g2"
    return "mp4"


def _name(kind: bytes) -> str:
    return repr(kind.decode("latin-1"))


def _label(container: str) -> str:
    return container.upper()


def _cut(what: str, size: int) -> str:
    return f"truncated file: {what} is cut short by the end of the file ({size} bytes)"


def _iso_cut(container: str, kind: bytes, seen: set[bytes], missing: int) -> str:
    label = _label(container)
    inside = {b"mdat": "the media data (mdat box)", b"moov": "the index (moov box)"}.get(
        kind, f"the {_name(kind)} box"
    )
    message = f"truncated {label} file: it ends inside {inside}, {missing} bytes short"
    if kind != b"moov" and b"moov" not in seen and b"moof" not in seen:
        message += ", and its index (moov box) is missing"
    return message


def _riff(head: bytes, size: int) -> Sniff:
    form = head[8:12]
    container = {b"WAVE": "wav", b"AVI ": "avi", b"WEBP": "webp"}.get(form)
    declared = struct.unpack("<I", head[4:8])[0]
    if head[:4] == b"RIFF" and declared not in (0, 0xFFFFFFFF) and 8 + declared > size:
        kind = {"wav": "WAV", "avi": "AVI", "webp": "WebP"}.get(container or "", "RIFF")
        return Sniff(
            container,
            f"truncated {kind} file: its header declares {8 + declared} bytes "
            f"but the file has {size}",
        )
    return Sniff(container)


def _vint(data: bytes, pos: int) -> tuple[int, int, bool] | None:
    """An EBML variable-length integer at ``pos``: (value, length, all-ones=unknown size)."""
    if pos >= len(data):
        return None
    first = data[pos]
    length = 1
    mask = 0x80
    while length <= 8 and not first & mask:
        mask >>= 1
        length += 1
    if length > 8 or pos + length > len(data):
        return None
    value = first & (mask - 1)
    for b in data[pos + 1 : pos + length]:
        value = (value << 8) | b
    return value, length, value == (1 << (7 * length)) - 1


def _ebml(head: bytes, size: int) -> Sniff:
    container = "webm" if b"\x42\x82\x84webm" in head[:64] else "matroska"
    # the EBML header element, then the Segment: its size must fit in the file
    header = _vint(head, 4)
    if header is None:
        return Sniff(container, "truncated Matroska/WebM file: the EBML header is cut short")
    body, length, _ = header
    pos = 4 + length + body
    if head[pos : pos + 4] != b"\x18\x53\x80\x67":
        return Sniff(container)
    seg = _vint(head, pos + 4)
    if seg is None:
        return Sniff(container)
    seg_size, seg_len, unknown = seg
    end = pos + 4 + seg_len + seg_size
    if not unknown and end > size:
        name = "WebM" if container == "webm" else "Matroska"
        return Sniff(
            container,
            f"truncated {name} file: its segment declares {end} bytes but the file has {size}",
        )
    return Sniff(container)
