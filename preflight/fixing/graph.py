"""A `FixPlan` -> an ffmpeg-python graph -> the FFmpeg arguments (everything after the binary).

The same graph builder makes the reference stream the quality measurement compares against: the
plan's timing and geometry applied to the source with no encoder in between, so SSIM measures
the encoding loss, not the intended changes (scale, pad, trim).
"""

from __future__ import annotations

import os
from typing import Any

import ffmpeg

from preflight.fixing.plan import AudioSpec, FixPlan, Strategy, VideoSpec
from preflight.toolchain.runner import INPUT_OPTIONS, input_url

__all__ = ["encode_args", "reference_video", "ssim_args"]

# A frame rate's worth of keyframes and B-frames that every player and decoder handles.
X264_PROFILE = "high"
AUDIO_SAMPLE_RATE = 48000


def _input(plan: FixPlan, *, loop: bool = False, threads: int | None = None) -> Any:
    kwargs: dict[str, Any] = dict(INPUT_OPTIONS)
    if threads:
        kwargs["threads"] = threads  # the decoder's threads (before -i)
    if plan.start:
        kwargs["ss"] = f"{plan.start:.6f}"
    if loop:
        kwargs["stream_loop"] = -1
    return ffmpeg.input(input_url(plan.source), **kwargs)


def reference_video(plan: FixPlan, stream: Any, *, encode: bool = True) -> Any:
    """The plan's video filters on ``stream`` (an ffmpeg-python stream of the source's video)."""
    spec = plan.video
    assert spec is not None
    if spec.frame_rate:
        stream = stream.filter("fps", fps=spec.frame_rate)
    if spec.tonemap:
        stream = (
            stream.filter("zscale", t="linear", npl=100)
            .filter("format", "gbrpf32le")
            .filter("zscale", p="bt709")
            .filter("tonemap", "hable", desat=0)
            .filter("zscale", t="bt709", m="bt709", r="tv")
        )
    if spec.fit != "none" and spec.scaled_width and spec.scaled_height:
        stream = stream.filter(
            "scale", spec.scaled_width, spec.scaled_height, flags=spec.scale_flags
        )
    if spec.fit == "pad":
        stream = stream.filter(
            "pad", spec.width, spec.height, "(ow-iw)/2", "(oh-ih)/2", color="black"
        )
    elif spec.fit == "crop":
        stream = stream.filter("crop", spec.width, spec.height)
    stream = stream.filter("setsar", 1).filter("format", "yuv420p")
    if spec.extend == "freeze" and spec.extend_by > 0:
        stream = stream.filter("tpad", stop_mode="clone", stop_duration=f"{spec.extend_by + 1:.3f}")
    return stream


def _video_options(spec: VideoSpec, bitrate: int | None, threads: int | None) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "c:v": spec.codec,
        "preset": spec.preset,
        "profile:v": X264_PROFILE,
        "pix_fmt": "yuv420p",
    }
    if spec.crf is not None and bitrate is None:
        opts["crf"] = spec.crf
        if spec.bitrate:
            # CRF for quality, capped so the file cannot outgrow the size limit
            opts["maxrate"] = spec.bitrate
            opts["bufsize"] = int(spec.bitrate * spec.buffer)
    else:
        # a bit-rate target that is also the ceiling: x264 keeps the running total within
        # ``bufsize`` of ``maxrate`` x time, so one encode lands just under a byte limit
        rate = bitrate or spec.bitrate
        assert rate is not None
        opts["b:v"] = rate
        opts["maxrate"] = rate
        opts["bufsize"] = int(rate * spec.buffer)
    if spec.frames:
        opts["frames:v"] = spec.frames
    if threads:
        opts["threads"] = threads
    return opts


def encode_args(
    plan: FixPlan,
    output: str | os.PathLike[str],
    *,
    video_bitrate: int | None = None,
    threads: int | None = None,
) -> list[str]:
    """FFmpeg arguments that write ``plan``'s output to ``output``.

    ``video_bitrate`` overrides the plan's (a compress-to-size retry at a lower rate).
    ``threads`` bounds the whole run, not only the encoder: decoder, filters and encoder each get
    that many (an engine runs one item per core; see `_bounded`).
    """
    out_url = input_url(output)
    spec = plan.video
    loop = spec is not None and spec.extend == "loop" and spec.extend_by > 0
    inp = _input(plan, loop=loop, threads=threads)
    streams: list[Any] = []
    opts: dict[str, Any] = {"f": plan.container, "map_metadata": -1, "map_chapters": -1}
    if plan.role == "video":
        assert spec is not None
        streams.append(_video_stream(plan, spec, inp, opts, video_bitrate, threads))
    else:
        opts["vn"] = None
    if plan.audio is not None and plan.audio.codec is not None:
        streams.append(_audio_stream(plan.audio, inp, opts))
    if plan.duration is not None and (
        plan.strategy is not Strategy.REMUX or plan.audio is not None
    ):
        opts["t"] = f"{plan.duration:.6f}"
    if plan.container in ("mp4", "mov", "ipod"):
        opts["movflags"] = "+faststart"
    args: list[str] = ffmpeg.output(*streams, out_url, **opts).get_args()
    return ["-y", *_bounded(threads), *args]


def _bounded(threads: int | None) -> list[str]:
    """Global options holding FFmpeg's filter graphs to ``threads`` (None: its own choice); they
    go first (ffmpeg-python puts global options last, where FFmpeg may ignore them).

    With the encoder alone held to one thread, a fix still kept about 1.2 cores busy (decoding,
    scaling, the SSIM pass), so two one-item workers on two cores fought over them."""
    if not threads:
        return []
    return ["-filter_threads", str(threads), "-filter_complex_threads", str(threads)]


def _video_stream(
    plan: FixPlan,
    spec: VideoSpec,
    inp: Any,
    opts: dict[str, Any],
    bitrate: int | None,
    threads: int | None,
) -> Any:
    """The output's video stream; its encoder options go into ``opts``."""
    if spec.codec != "copy":
        opts.update(_video_options(spec, bitrate, threads))
        return reference_video(plan, inp["v:0"])
    opts["c:v"] = "copy"
    if spec.hevc_tag:
        opts["tag:v"] = "hvc1"
    return inp["v:0"]


def _audio_stream(aspec: AudioSpec, inp: Any, opts: dict[str, Any]) -> Any:
    """The output's audio stream (copied, or padded and re-encoded); options go into ``opts``."""
    audio = inp["a:0"]
    if aspec.codec == "copy":
        opts["c:a"] = "copy"
        return audio
    if aspec.pad_to:
        audio = audio.filter("apad", whole_dur=f"{aspec.pad_to:.6f}")
    opts["c:a"] = aspec.codec
    wanted = {"b:a": aspec.bitrate, "ar": aspec.sample_rate, "ac": aspec.channels}
    opts.update({key: value for key, value in wanted.items() if value})
    return audio


def ssim_args(
    plan: FixPlan, output: str | os.PathLike[str], stats_file: str, *, threads: int | None = None
) -> list[str]:
    """FFmpeg arguments comparing ``output`` with the plan's reference (SSIM to ``stats_file``);
    ``threads`` as `encode_args` takes it."""
    spec = plan.video
    assert spec is not None
    loop = spec.extend == "loop" and spec.extend_by > 0
    decode: dict[str, Any] = {"threads": threads} if threads else {}
    encoded = ffmpeg.input(input_url(output), **INPUT_OPTIONS, **decode)["v:0"]
    encoded = encoded.filter("setsar", 1).filter("format", "yuv420p")
    reference = reference_video(plan, _input(plan, loop=loop, threads=threads)["v:0"])
    if spec.frames:
        reference = reference.filter("trim", end_frame=spec.frames)
        encoded = encoded.filter("trim", end_frame=spec.frames)
    joined = ffmpeg.filter([encoded, reference], "ssim", stats_file=stats_file)
    args: list[str] = ffmpeg.output(joined, "-", f="null").get_args()
    return [*_bounded(threads), *args]
