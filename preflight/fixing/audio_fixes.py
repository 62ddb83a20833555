"""The fixes of the audio rules (an audio input for audio2video), in the shape of `video_fixes`.

Each fix turns its rule's finding (or None: the output must still keep to the rule) into a change
of the `AudioDraft`: trim or pad, the output format, the bit rate that fits the size limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from preflight.fixing.draft import AudioDraft, AudioInput, Unfixable, seconds
from preflight.fixing.plan import FixStep
from preflight.model.findings import Finding

__all__ = [
    "AUDIO_CONTAINERS",
    "FIXES",
    "AudioFix",
    "compress_audio",
    "convert_audio",
    "first_stream",
    "fit_audio_duration",
    "fit_to_video",
]

AudioFix = Callable[[Finding | None, AudioDraft, AudioInput], AudioDraft]

# output suffix -> (FFmpeg muxer, encoder)
AUDIO_CONTAINERS = {
    ".m4a": ("ipod", "aac"),
    ".mp3": ("mp3", "libmp3lame"),
    ".wav": ("wav", "pcm_s16le"),
    ".aac": ("adts", "aac"),
}
FORMAT_SUFFIX = {"mp3": ".mp3", "wav": ".wav", "m4a": ".m4a", "aac": ".aac"}
DEFAULT_FORMATS = ("mp3", "wav", "m4a", "aac")
LOSSLESS = frozenset({"pcm_s16le", "pcm_s24le", "flac", "pcm_f32le", "alac"})
FIT_TOLERANCE = 0.05
SIZE_SAFETY = 0.95
AUDIO_OVERHEAD_BYTES = 16_000


def fit_to_video(finding: Finding | None, draft: AudioDraft, src: AudioInput) -> AudioDraft:
    """``job.av_duration`` (audio side): trim or pad the audio with silence to ``fit_to`` seconds
    (the fixed video's length, set by `fix_pair`), within the profile's audio duration range."""
    fit_to = src.options.fit_to
    if fit_to is None:
        return draft
    amin = src.limit("audio.duration", "min")
    amax = src.limit("audio.duration", "max")
    target = min(max(fit_to, amin or 0.0), amax if amax is not None else fit_to)
    length = draft.length
    if length > target + FIT_TOLERANCE:
        text = f"trim the audio from {seconds(length)} to {seconds(target)} to match the video"
        return replace(draft, out_duration=target).step(
            FixStep("fit-audio", text, "job.av_duration")
        )
    if length < target - FIT_TOLERANCE:
        text = (
            f"pad the audio from {seconds(length)} to {seconds(target)} with silence to match "
            "the video"
        )
        return replace(draft, out_duration=target, pad_to=target).step(
            FixStep("fit-audio", text, "job.av_duration")
        )
    return draft


def first_stream(finding: Finding | None, draft: AudioDraft, src: AudioInput) -> AudioDraft:
    """``audio.streams``: the output carries the first audio stream only (every command maps
    ``a:0``), so nothing changes but the plan's words."""
    if finding is None:
        return draft
    return draft.warn(f"only the first of {src.facts.audio_streams} audio streams is kept")


def fit_audio_duration(finding: Finding | None, draft: AudioDraft, src: AudioInput) -> AudioDraft:
    """``audio.duration``: trim to 0.1 s inside the maximum or pad with silence to 0.1 s past the
    minimum. A ``fit_to`` length (`fit_to_video`) takes its place."""
    if src.options.fit_to is not None:
        return draft
    amin = src.limit("audio.duration", "min")
    amax = src.limit("audio.duration", "max")
    if amax is not None and draft.length > amax:
        out = max(amax - 0.1, (amin or 0) + 0.1)
        text = f"trim the audio to {seconds(out)} (limit {seconds(amax)})"
        return replace(draft, out_duration=out).step(FixStep("trim", text, "audio.duration"))
    if amin is not None and draft.length < amin:
        out = amin + 0.1
        text = f"pad the audio with silence to {seconds(out)} (minimum {seconds(amin)})"
        return replace(draft, out_duration=out, pad_to=out).step(
            FixStep("extend", text, "audio.duration")
        )
    return draft


def convert_audio(finding: Finding | None, draft: AudioDraft, src: AudioInput) -> AudioDraft:
    """``audio.format``: the output's format is the name asked for, else the source's own when
    the profile accepts it (then it may be copied), else M4A (AAC)."""
    allowed = tuple(src.profile.param("audio.format", "allowed", DEFAULT_FORMATS))
    if src.output is not None:
        suffix = Path(src.output).suffix.lower()
        if suffix not in AUDIO_CONTAINERS or suffix.lstrip(".") not in allowed:
            raise Unfixable(
                f"cannot write {suffix or 'no extension'}: the profile accepts {', '.join(allowed)}"
            )
    elif src.source_format in allowed:
        suffix = FORMAT_SUFFIX[src.source_format]
    else:
        suffix = ".m4a" if "m4a" in allowed else FORMAT_SUFFIX[allowed[0]]
    return with_format(draft, suffix, src)


def with_format(draft: AudioDraft, suffix: str, src: AudioInput) -> AudioDraft:
    """``draft`` written as ``suffix``: its muxer, encoder and starting bit rate."""
    muxer, codec = AUDIO_CONTAINERS[suffix]
    stream, wanted = src.stream, src.options.audio_bitrate
    bitrate: int | None = min(wanted, stream.bit_rate or wanted)
    if stream.codec in LOSSLESS:
        bitrate = wanted  # a lossless source's rate says nothing about what AAC/MP3 needs
    if codec == "pcm_s16le":
        bitrate = None
    return replace(draft, suffix=suffix, muxer=muxer, codec=codec, bitrate=bitrate)


def compress_audio(finding: Finding | None, draft: AudioDraft, src: AudioInput) -> AudioDraft:
    """``audio.size``: WAV that cannot fit is written as M4A (or MP3) when no name was asked
    for; otherwise the bit rate is lowered until the file fits ``max_bytes``."""
    limit = src.limit("audio.size", "max_bytes")
    draft = replace(draft, size_limit=limit)
    if limit is None:
        return draft
    pcm_bytes = draft.out_duration * draft.sample_rate * draft.channels * 2 + 1000
    if draft.codec == "pcm_s16le" and pcm_bytes > limit:
        draft = _instead_of_wav(draft, src, limit, int(pcm_bytes))
    if draft.bitrate is None:
        return draft
    budget = int((limit * SIZE_SAFETY - AUDIO_OVERHEAD_BYTES) * 8 / draft.out_duration)
    if budget >= draft.bitrate and finding is None:
        return draft
    bitrate = min(draft.bitrate, budget)
    text = f"lower the bit rate to {bitrate // 1000} kb/s to fit {limit:,} bytes"
    draft = replace(draft, bitrate=bitrate, compress=True).step(
        FixStep("compress", text, "audio.size")
    )
    if bitrate < 32_000:
        draft = draft.warn(f"only {bitrate // 1000} kb/s fit: speech will sound muffled")
    if bitrate < 8_000:
        raise Unfixable(f"{seconds(draft.out_duration)} of audio cannot fit in {limit:,} bytes")
    return draft


def _instead_of_wav(draft: AudioDraft, src: AudioInput, limit: int, pcm_bytes: int) -> AudioDraft:
    duration = seconds(draft.out_duration)
    if src.output is not None:
        raise Unfixable(
            f"{duration} of WAV is {pcm_bytes:,} bytes, over {limit:,}: write .m4a or .mp3 instead"
        )
    allowed = tuple(src.profile.param("audio.format", "allowed", DEFAULT_FORMATS))
    suffix = ".m4a" if "m4a" in allowed else ".mp3"
    return with_format(draft, suffix, src).warn(
        f"{duration} of WAV would be {pcm_bytes:,} bytes, over {limit:,}: written as {suffix} "
        "instead"
    )


# The registry's audio half, in the order the fixes run: length, then format, then size.
FIXES: tuple[tuple[str, AudioFix], ...] = (
    ("job.av_duration", fit_to_video),
    ("job.av_ratio", fit_to_video),
    ("audio.streams", first_stream),
    ("audio.duration", fit_audio_duration),
    ("audio.format", convert_audio),
    ("audio.size", compress_audio),
)
