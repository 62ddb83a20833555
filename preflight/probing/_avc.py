"""An H.264 sequence parameter set, read as far as the facts need (size, profile, colour).

Used by the MP4/MOV fast path (`_isobmff`) on the SPS in the ``avcC`` box. Anything this reader
does not clearly understand (an interlaced stream, a profile MediaInfo names in a way not listed
here, a bit depth that differs between luma and chroma) makes it return None, and the probe then
asks MediaInfo instead.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Sps", "parse_sps", "transfer_name"]

# profile_idc -> MediaInfo's name (Avc_profile_idc); the constraint-flag variants are below
_PROFILES = {
    66: "Baseline",
    77: "Main",
    88: "Extended",
    100: "High",
    110: "High 10",
    122: "High 4:2:2",
    244: "High 4:4:4 Predictive",
}
_HIGH = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
# H.273 transfer_characteristics -> FFmpeg's name (what `mediainfo_transfer` makes of MediaInfo's)
_TRANSFERS = {
    1: "bt709",
    4: "gamma22",
    5: "gamma28",
    6: "smpte170m",
    7: "smpte240m",
    8: "linear",
    9: "log100",
    10: "log316",
    11: "iec61966-2-4",
    12: "bt1361e",
    13: "iec61966-2-1",
    14: "bt2020-10",
    15: "bt2020-12",
    16: "smpte2084",
    17: "smpte428",
    18: "arib-std-b67",
}
_SAR_IDC = {
    1: (1, 1),
    2: (12, 11),
    3: (10, 11),
    4: (16, 11),
    5: (40, 33),
    6: (24, 11),
    7: (20, 11),
    8: (32, 11),
    9: (80, 33),
    10: (18, 11),
    11: (15, 11),
    12: (64, 33),
    13: (160, 99),
    14: (4, 3),
    15: (3, 2),
    16: (2, 1),
}
_MAX_SPS_BYTES = 1024


class _Unsure(Exception):
    """The SPS holds something this reader does not handle."""


class Sps(NamedTuple):
    width: int
    height: int
    profile: str
    chroma: int  # chroma_format_idc: 0 mono, 1 4:2:0, 2 4:2:2, 3 4:4:4
    bit_depth: int
    sar: tuple[int, int] | None  # the VUI's sample aspect ratio, when it states one
    full_range: bool | None  # None when the VUI says nothing of the range
    transfer: int | None  # H.273 code, None when the VUI says nothing of colour


class _Bits:
    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._left = len(data) * 8

    def u(self, count: int) -> int:
        if count > self._left:
            raise _Unsure("SPS ends early")
        self._left -= count
        return (self._value >> self._left) & ((1 << count) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise _Unsure("exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


def _rbsp(nal: bytes) -> bytes:
    """The NAL unit's payload with emulation-prevention bytes (00 00 03) removed."""
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def transfer_name(code: int | None) -> str | None:
    """H.273 transfer code -> FFmpeg's name; 2 (unspecified) -> None. Raises on unknown codes."""
    if code is None or code == 2:
        return None
    name = _TRANSFERS.get(code)
    if name is None:
        raise ValueError(f"transfer characteristics {code}")
    return name


def parse_sps(nal: bytes) -> Sps | None:
    """The SPS NAL unit (with its one-byte header) -> its facts, or None if not understood."""
    if not nal or nal[0] & 0x1F != 7 or len(nal) > _MAX_SPS_BYTES:
        return None
    try:
        return _parse(_Bits(_rbsp(nal[1:])))
    except _Unsure:
        return None


def _profile_name(idc: int, flags: int) -> str:
    set1, set3, set4 = flags & 0x40, flags & 0x10, flags & 0x08
    if idc == 66:
        return "Constrained Baseline" if set1 else "Baseline"
    if idc in (110, 122, 244) and set3:
        raise _Unsure("intra profile")
    if idc == 100 and set4:
        raise _Unsure("progressive/constrained High")
    name = _PROFILES.get(idc)
    if name is None:
        raise _Unsure(f"profile {idc}")
    return name


def _skip_scaling_lists(bits: _Bits, count: int) -> None:
    for i in range(count):
        if bits.u(1):
            size = 16 if i < 6 else 64
            last = next_ = 8
            for _ in range(size):
                if next_ != 0:
                    next_ = (last + bits.se() + 256) % 256
                last = last if next_ == 0 else next_


def _parse(bits: _Bits) -> Sps:
    idc, flags, _level = bits.u(8), bits.u(8), bits.u(8)
    profile = _profile_name(idc, flags)
    bits.ue()  # seq_parameter_set_id
    chroma, depth, depth_chroma = 1, 8, 8
    if idc in _HIGH:
        chroma = bits.ue()
        if chroma == 3 and bits.u(1):
            raise _Unsure("separate colour planes")
        depth, depth_chroma = bits.ue() + 8, bits.ue() + 8
        bits.u(1)  # qpprime_y_zero_transform_bypass
        if bits.u(1):
            _skip_scaling_lists(bits, 8 if chroma != 3 else 12)
    if chroma > 3 or (chroma != 0 and depth != depth_chroma) or depth > 14:
        raise _Unsure("chroma format or bit depth")
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        cycle = bits.ue()
        if cycle > 255:
            raise _Unsure("POC cycle")
        for _ in range(cycle):
            bits.se()
    elif poc_type != 2:
        raise _Unsure("POC type")
    bits.ue()  # max_num_ref_frames
    bits.u(1)
    width_mbs, height_units = bits.ue() + 1, bits.ue() + 1
    if not bits.u(1):  # frame_mbs_only: interlaced content is left to MediaInfo
        raise _Unsure("interlaced")
    bits.u(1)  # direct_8x8_inference
    crop = (bits.ue(), bits.ue(), bits.ue(), bits.ue()) if bits.u(1) else (0, 0, 0, 0)
    unit_x = 2 if chroma in (1, 2) else 1
    unit_y = 2 if chroma == 1 else 1
    width = width_mbs * 16 - unit_x * (crop[0] + crop[1])
    height = height_units * 16 - unit_y * (crop[2] + crop[3])
    if width <= 0 or height <= 0:
        raise _Unsure("cropped to nothing")
    sar, full, transfer = _vui(bits) if bits.u(1) else (None, None, None)
    return Sps(width, height, profile, chroma, depth, sar, full, transfer)


def _vui(bits: _Bits) -> tuple[tuple[int, int] | None, bool | None, int | None]:
    sar = None
    if bits.u(1):
        sar_idc = bits.u(8)
        if sar_idc == 255:
            sar = (bits.u(16), bits.u(16))
        elif sar_idc in _SAR_IDC:
            sar = _SAR_IDC[sar_idc]
        elif sar_idc != 0:
            raise _Unsure("reserved aspect ratio")
    if bits.u(1):  # overscan_info_present
        bits.u(1)
    full = transfer = None
    if bits.u(1):  # video_signal_type_present
        bits.u(3)
        full = bool(bits.u(1))
        if bits.u(1):  # colour_description_present
            bits.u(8)
            transfer = bits.u(8)
            bits.u(8)
    return sar, full, transfer
