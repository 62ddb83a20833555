"""Backend names -> FFmpeg short names (containers, codecs, transfer characteristics).

MediaInfo speaks in format names ("AVC", "MPEG Audio", "Wave"); ffprobe already uses FFmpeg's.
Everything in ``MediaFacts`` uses FFmpeg's, so these tables are the whole translation. A name not
in a table is passed through lower-cased, so a new format shows up readable rather than as None.
"""

from __future__ import annotations

from preflight.probing._sniff import Sniff

__all__ = [
    "IMAGE_CONTAINERS",
    "container_from_ffprobe",
    "container_from_mediainfo",
    "mediainfo_audio_codec",
    "mediainfo_transfer",
    "mediainfo_video_codec",
]

IMAGE_CONTAINERS = frozenset({"jpeg", "png", "gif", "webp", "bmp", "tiff"})

# families whose member only the sniff can tell (mp4/mov/3gp by ftyp brand, mkv/webm by DocType)
_ISO = frozenset({"mp4", "mov", "3gp", "3g2"})
_EBML = frozenset({"matroska", "webm"})

_MI_CONTAINER = {
    "MPEG-4": "mp4",
    "QuickTime": "mov",
    "Matroska": "matroska",
    "WebM": "webm",
    "AVI": "avi",
    "MPEG Audio": "mp3",
    "Wave": "wav",
    "Wave64": "w64",
    "ADTS": "adts",
    "FLAC": "flac",
    "Ogg": "ogg",
    "JPEG": "jpeg",
    "PNG": "png",
    "GIF": "gif",
    "WebP": "webp",
    "BMP": "bmp",
    "TIFF": "tiff",
    "MPEG-TS": "mpegts",
    "MPEG-PS": "mpeg",
    "Flash Video": "flv",
    "AIFF": "aiff",
    "Windows Media": "asf",
    "AMR": "amr",
}

_FF_CONTAINER = {
    "mov,mp4,m4a,3gp,3g2,mj2": "mp4",
    "matroska,webm": "matroska",
    "image2": None,  # the sniff names the image format
    "jpeg_pipe": "jpeg",
    "png_pipe": "png",
    "gif_pipe": "gif",
    "webp_pipe": "webp",
    "bmp_pipe": "bmp",
    "tiff_pipe": "tiff",
    "aac": "adts",
    "mpegts": "mpegts",
    "mpeg": "mpeg",
    "wav": "wav",
    "w64": "w64",
    "aiff": "aiff",
}


def _refine(family: str | None, sniffed: Sniff) -> str | None:
    """Let the sniff pick the member of a family, or fill in what the backend could not name."""
    if sniffed.container is None:
        return family
    if family is None:
        return sniffed.container
    if family in _ISO and sniffed.container in _ISO:
        return sniffed.container
    if family in _EBML and sniffed.container in _EBML:
        return sniffed.container
    if family in IMAGE_CONTAINERS and sniffed.container in IMAGE_CONTAINERS:
        return sniffed.container
    return family


def container_from_mediainfo(fmt: str | None, sniffed: Sniff) -> str | None:
    """MediaInfo's General ``Format`` (refined by the sniff) as an FFmpeg short name."""
    family = None if fmt is None else _MI_CONTAINER.get(fmt, fmt.lower())
    return _refine(family, sniffed)


def container_from_ffprobe(format_name: str | None, sniffed: Sniff) -> str | None:
    """ffprobe's ``format_name`` (refined by the sniff) as one FFmpeg short name."""
    if format_name is None:
        return _refine(None, sniffed)
    family = _FF_CONTAINER.get(format_name, format_name.split(",")[0])
    return _refine(family, sniffed)


_MI_VIDEO = {
    "AVC": "h264",
    "HEVC": "hevc",
    "VP8": "vp8",
    "VP9": "vp9",
    "AV1": "av1",
    "MPEG-4 Visual": "mpeg4",
    "ProRes": "prores",
    "JPEG": "mjpeg",
    "PNG": "png",
    "GIF": "gif",
    "WebP": "webp",
    "BMP": "bmp",
    "TIFF": "tiff",
    "H.263": "h263",
    "DV": "dvvideo",
    "FFV1": "ffv1",
    "Theora": "theora",
    "VC-1": "vc1",
    "DNxHD": "dnxhd",
    "HuffYUV": "huffyuv",
    "Sorenson Spark": "flv1",
    "RGB": "rawvideo",
    "YUV": "rawvideo",
}


def mediainfo_video_codec(fmt: str | None, version: str | None = None) -> str | None:
    """MediaInfo's video/image ``Format`` as an FFmpeg codec name."""
    if fmt is None:
        return None
    if fmt == "MPEG Video":
        return "mpeg1video" if version == "1" else "mpeg2video"
    return _MI_VIDEO.get(fmt, fmt.lower())


_MI_AUDIO = {
    "AAC": "aac",
    "Opus": "opus",
    "Vorbis": "vorbis",
    "FLAC": "flac",
    "AC-3": "ac3",
    "E-AC-3": "eac3",
    "ALAC": "alac",
    "DTS": "dts",
    "TrueHD": "truehd",
    "AMR": "amr_nb",
    "WMA": "wmav2",
    "ADPCM": "adpcm_ima_wav",
}


def mediainfo_audio_codec(
    fmt: str | None,
    *,
    profile: str | None = None,
    bit_depth: int | None = None,
    endianness: str | None = None,
    sign: str | None = None,
    codec_id: str | None = None,
) -> str | None:
    """MediaInfo's audio ``Format`` (+ PCM details) as an FFmpeg codec name."""
    if fmt is None:
        return None
    if fmt == "MPEG Audio":
        return {"Layer 1": "mp1", "Layer 2": "mp2"}.get(profile or "", "mp3")
    if fmt == "PCM":
        return _pcm(bit_depth, endianness, sign, codec_id)
    return _MI_AUDIO.get(fmt, fmt.lower())


def _pcm(
    bit_depth: int | None, endianness: str | None, sign: str | None, codec_id: str | None
) -> str:
    depth = bit_depth or 16
    if codec_id in ("3", "fl32", "fl64") or (sign or "").lower() == "float":
        return f"pcm_f{depth}{'be' if endianness == 'Big' else 'le'}"
    if depth == 8:
        return "pcm_s8" if sign == "Signed" else "pcm_u8"
    if codec_id in ("twos", "in24", "in32"):
        end = "le" if endianness == "Little" else "be"
    else:
        end = "be" if endianness == "Big" else "le"
    kind = "u" if sign == "Unsigned" else "s"
    return f"pcm_{kind}{depth}{end}"


_MI_TRANSFER = {
    "BT.709": "bt709",
    "BT.470 System M": "gamma22",
    "BT.470 System B/G": "gamma28",
    "BT.601": "smpte170m",
    "SMPTE 240M": "smpte240m",
    "Linear": "linear",
    "Logarithmic (100:1)": "log100",
    "Logarithmic (316.22777:1)": "log316",
    "xvYCC": "iec61966-2-4",
    "BT.1361": "bt1361e",
    "sRGB/sYCC": "iec61966-2-1",
    "BT.2020 (10-bit)": "bt2020-10",
    "BT.2020 (12-bit)": "bt2020-12",
    "PQ": "smpte2084",
    "SMPTE 428M": "smpte428",
    "HLG": "arib-std-b67",
}


def mediainfo_transfer(name: str | None) -> str | None:
    """MediaInfo's ``transfer_characteristics`` as FFmpeg's ``color_transfer``."""
    if not name:
        return None
    return _MI_TRANSFER.get(name, name.lower())
