"""Each registered fix, table-driven: facts (and params, options) in, the change of the draft out.

No FFmpeg, no probe, no planner: a fix is called the way the planner calls it, on the draft the
earlier fixes left, and its answer is compared field by field.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from preflight.fixing import registry
from preflight.fixing.audio_fixes import (
    compress_audio,
    convert_audio,
    first_stream,
    fit_audio_duration,
    fit_to_video,
)
from preflight.fixing.draft import (
    AudioDraft,
    AudioInput,
    Unfixable,
    VideoDraft,
    VideoInput,
    frame_rate,
    video_window,
)
from preflight.fixing.geometry import Geometry
from preflight.fixing.plan import FixOptions
from preflight.fixing.verify import check_facts, errors_in
from preflight.fixing.video_fixes import (
    change_container,
    compress_to_size,
    fit_duration,
    fit_frame,
    fit_frame_rate,
    fit_to_audio,
    keep_metadata,
    reencode_codec,
)
from preflight.model.facts import AudioStream, MediaFacts, VideoStream
from preflight.model.findings import Finding, Severity
from preflight.rules.profiles import load_profile

KLING = load_profile("kling-lipsync")  # 2-10 s, 720-1920 px per side, 100 MB, h264/hevc kept


def video(**kw: Any) -> MediaFacts:
    seconds = kw.pop("duration", 5.0)
    stream = VideoStream(
        codec=kw.pop("codec", "h264"),
        width=kw.pop("width", 1280),
        height=kw.pop("height", 720),
        coded_width=None,
        coded_height=None,
        duration=seconds,
        frame_rate=kw.pop("fps", 25.0),
        sample_aspect_ratio=kw.pop("sar", "1:1"),
    )
    track = AudioStream(
        codec="aac", sample_rate=48000, channels=2, duration=kw.pop("audio", seconds)
    )
    return MediaFacts(
        source="/in/clip.mp4",
        backend="test",
        container=kw.pop("container", "mp4"),
        extension=kw.pop("extension", "mp4"),
        size_bytes=kw.pop("size", 3_000_000),
        duration=seconds,
        video=stream,
        audio=track,
        video_streams=1,
        audio_streams=1,
    )


def vinput(facts: MediaFacts, **options: Any) -> tuple[VideoInput, dict[str, Finding]]:
    failing = {f.rule: f for f in errors_in(check_facts(facts, KLING, "video"))}
    assert facts.video is not None
    assert facts.effective_duration is not None
    src = VideoInput(
        facts,
        facts.video,
        KLING,
        FixOptions(**options),
        failing,
        facts.effective_duration,
        frame_rate(facts),
    )
    return src, failing


def start(src: VideoInput) -> VideoDraft:
    return video_window(src.duration, src.options, src.rate)


@pytest.mark.parametrize(
    ("duration", "opts", "frames", "trimmed", "step_kind", "rule"),
    [
        (5.0, {}, None, False, None, None),  # inside 2-10 s: nothing
        (15.0, {}, 249, True, "trim", "video.duration"),  # one frame inside 10 s at 25 fps
        (15.0, {"start": 2.0}, 249, True, "trim", "video.duration"),
        (15.0, {"start": 2.0, "end": 6.0}, 100, True, "trim", None),  # the asked window only
        (1.0, {}, 51, False, "extend", "video.duration"),  # one frame past 2 s
        (1.0, {"min_duration": 4.0}, 101, False, "extend", "video.duration"),  # the longer floor
        (10.0, {"start": 9.0}, 51, True, "extend", "video.duration"),  # a late start: too short
    ],
)
def test_fit_duration(
    duration: float,
    opts: dict[str, Any],
    frames: int | None,
    trimmed: bool,
    step_kind: str | None,
    rule: str | None,
) -> None:
    src, failing = vinput(video(duration=duration), **opts)
    after = fit_duration(failing.get("video.duration"), start(src), src)
    assert after.frames == frames
    assert after.trimmed is trimmed
    step = after.window_step
    assert ((step.kind, step.rule) if step else (None, None)) == (step_kind, rule)


def test_a_window_longer_than_the_limit_is_cut_with_a_warning() -> None:
    src, failing = vinput(video(duration=20.0), start=1.0, end=16.0)
    after = fit_duration(failing.get("video.duration"), start(src), src)
    assert after.capped
    assert after.frames == 249
    assert "only its first 9.96 s are kept" in after.warnings[0]


@pytest.mark.parametrize(
    ("duration", "audio", "opts", "frames", "fit_audio", "rule"),
    [
        (5.0, 5.0, {"min_duration": 8.0}, 201, False, "job.av_duration"),  # lengthened to it
        (5.0, 5.0, {"min_duration": 5.02}, None, False, None),  # within the tolerance
        (5.0, 5.0, {"min_duration": 30.0}, 249, False, "job.av_duration"),  # capped at 10 s
        (5.0, 7.0, {"fit_audio": True}, None, True, None),  # pads the clip's own audio
        (5.0, 5.0, {"fit_audio": True}, None, False, None),  # nothing to pad
    ],
)
def test_fit_to_audio(
    duration: float,
    audio: float,
    opts: dict[str, Any],
    frames: int | None,
    fit_audio: bool,
    rule: str | None,
) -> None:
    src, _ = vinput(video(duration=duration, audio=audio), **opts)
    after = fit_to_audio(None, start(src), src)
    assert after.frames == frames
    assert after.fit_audio is fit_audio
    assert (after.window_step.rule if after.window_step else None) == rule


@pytest.mark.parametrize(
    ("codec", "reencode", "rule"),
    [("h264", False, None), ("hevc", False, None), ("vp9", True, "video.codec")],
)
def test_reencode_codec(codec: str, reencode: bool, rule: str | None) -> None:
    src, _ = vinput(video(codec=codec))  # video.codec is a warning in kling-lipsync
    finding = Finding("video.codec", Severity.ERROR, f"video codec is {codec}", fixable=True)
    after = reencode_codec(finding if codec == "vp9" else None, start(src), src)
    assert after.reencode is reencode
    assert [s.rule for s in after.steps] == ([rule] if reencode else [])


def test_reencode_codec_without_a_finding_still_reencodes_what_mp4_cannot_copy() -> None:
    src, _ = vinput(video(codec="vp9"))
    after = reencode_codec(None, start(src), src)  # e.g. video.codec off or a warning
    assert after.reencode
    assert "keeps only h264, hevc" in after.steps[0].reason


def test_change_container_writes_mp4_and_leaves_the_strategy_to_the_planner() -> None:
    src, failing = vinput(video(container="matroska", extension="mkv"))
    after = change_container(failing["video.container"], start(src), src)
    assert not after.reencode  # a remux is enough unless another fix says otherwise
    assert after.steps[0].reason == "write MP4 (was matroska)"
    assert change_container(None, start(src), src) == start(src)


@pytest.mark.parametrize(
    ("size", "opts", "geometry", "reencode", "kinds"),
    [
        ((1280, 720), {}, Geometry(1280, 720, 1280, 720, "none", 1.0), False, []),
        ((3840, 2160), {}, Geometry(1920, 1080, 1920, 1080, "scale", 0.5), True, ["scale"]),
        ((640, 360), {}, Geometry(1280, 720, 1280, 720, "scale", 2.0), True, ["scale"]),
        ((720, 1800), {}, Geometry(720, 1800, 720, 1800, "none", 1.0), False, []),
        (
            (600, 1900),
            {},
            Geometry(720, 1920, 606, 1920, "pad", 1.0),
            True,
            ["scale", "pad"],
        ),
    ],
)
def test_fit_frame(
    size: tuple[int, int],
    opts: dict[str, Any],
    geometry: Geometry,
    reencode: bool,
    kinds: list[str],
) -> None:
    src, failing = vinput(video(width=size[0], height=size[1]), **opts)
    draft = start(src)
    for rule in ("video.width", "video.height"):  # registered for both: one frame answers both
        draft = registry.get(rule, "video")(failing.get(rule), draft, src)  # type: ignore[arg-type]
    assert draft.geometry is not None
    assert (draft.geometry.width, draft.geometry.height, draft.geometry.fit) == (
        geometry.width,
        geometry.height,
        geometry.fit,
    )
    assert draft.reencode is reencode
    assert [s.kind for s in draft.steps] == kinds
    assert (
        fit_frame is registry.get("video.width", "video") is registry.get("video.height", "video")
    )


def test_fit_frame_warns_when_it_upscales() -> None:
    src, failing = vinput(video(width=640, height=360))
    after = fit_frame(failing.get("video.width"), start(src), src)
    assert after.warnings == (
        "upscaled 2.00x from 640x360: detail cannot be added, the picture will look soft",
    )


def _framed(src: VideoInput) -> VideoDraft:
    return fit_frame(None, start(src), src)


@pytest.mark.parametrize(
    ("size", "duration", "opts", "compress", "tight", "audio_bitrate"),
    [
        (3_000_000, 5.0, {}, False, False, 128_000),  # under the limit: only a cap
        (150_000_000, 8.0, {}, True, True, 128_000),  # 100 MB over 8 s: the budget is the target
        (150_000_000, 8.0, {"end": 4.0}, False, False, 128_000),  # the trim alone makes it fit
        (900_000_000, 9.0, {}, True, True, 128_000),
    ],
)
def test_compress_to_size(
    size: int,
    duration: float,
    opts: dict[str, Any],
    compress: bool,
    tight: bool,
    audio_bitrate: int,
) -> None:
    src, failing = vinput(video(size=size, duration=duration), **opts)
    draft = fit_duration(failing.get("video.duration"), _framed(src), src)
    after = compress_to_size(failing.get("video.size"), draft, src)
    assert after.size_limit == 100_000_000
    assert after.compress is compress
    assert after.reencode is compress
    assert after.tight is tight
    assert after.audio_bitrate == audio_bitrate
    assert after.bitrate is not None
    assert after.bitrate * after.out_duration / 8 < 100_000_000  # the video alone fits


def test_compress_to_size_lowers_the_audio_before_the_video_starves() -> None:
    small = replace(
        KLING,
        rules={
            **KLING.rules,
            "video.size": replace(KLING.rules["video.size"], params={"max_bytes": 250_000}),
        },
    )
    facts = video(size=40_000_000, duration=9.0)
    src, _ = vinput(facts)
    src = replace(src, profile=small)
    after = compress_to_size(None, _framed(src), src)
    assert after.compress
    assert after.tight
    assert after.audio_bitrate == 32_000  # every lower audio rate tried, the last kept
    assert "expect visible blocking" in after.rate_warnings[0]
    assert after.rate_step is not None
    assert after.rate_step.rule == "video.size"


def test_compress_to_size_refuses_what_cannot_fit() -> None:
    tiny = replace(
        KLING,
        rules={
            **KLING.rules,
            "video.size": replace(KLING.rules["video.size"], params={"max_bytes": 50_000}),
        },
    )
    src, _ = vinput(video(size=40_000_000, duration=9.0))
    with pytest.raises(Unfixable, match="cannot fit in 50000 bytes"):
        compress_to_size(None, _framed(src), replace(src, profile=tiny))


# ---- audio ----


def sound(**kw: Any) -> MediaFacts:
    seconds = kw.pop("duration", 5.0)
    track = AudioStream(
        codec=kw.pop("codec", "mp3"),
        sample_rate=kw.pop("rate", 44100),
        channels=1,
        duration=seconds,
        bit_rate=kw.pop("bit_rate", 128_000),
    )
    return MediaFacts(
        source="/in/voice.mp3",
        backend="test",
        container=kw.pop("container", "mp3"),
        extension=kw.pop("extension", "mp3"),
        size_bytes=kw.pop("size", 80_000),
        duration=seconds,
        audio=track,
        audio_streams=1,
    )


def ainput(facts: MediaFacts, output: str | None = None, **options: Any) -> AudioInput:
    failing = {f.rule: f for f in errors_in(check_facts(facts, KLING, "audio"))}
    assert facts.audio is not None
    assert facts.duration is not None
    fmt = {"mp3": "mp3", "wav": "wav", "adts": "aac"}.get(facts.container or "", "")
    return AudioInput(
        facts, facts.audio, KLING, FixOptions(**options), failing, facts.duration, output, fmt
    )


def afirst(src: AudioInput) -> AudioDraft:
    return AudioDraft(start=0.0, length=src.duration, out_duration=src.duration)


@pytest.mark.parametrize(
    ("duration", "fit_to", "out", "pad_to"),
    [(5.0, 8.0, 8.0, 8.0), (9.0, 6.0, 6.0, None), (5.0, 5.03, 5.0, None), (5.0, None, 5.0, None)],
)
def test_fit_to_video(
    duration: float, fit_to: float | None, out: float, pad_to: float | None
) -> None:
    src = ainput(sound(duration=duration), fit_to=fit_to)
    after = fit_to_video(None, afirst(src), src)
    assert (after.out_duration, after.pad_to) == (out, pad_to)


@pytest.mark.parametrize(
    ("duration", "out", "pad_to", "kind"),
    [(1.0, 2.1, 2.1, "extend"), (5.0, 5.0, None, None), (70.0, 59.9, None, "trim")],
)
def test_fit_audio_duration(
    duration: float, out: float, pad_to: float | None, kind: str | None
) -> None:
    src = ainput(sound(duration=duration))
    after = fit_audio_duration(src.findings.get("audio.duration"), afirst(src), src)
    assert (after.out_duration, after.pad_to) == pytest.approx((out, pad_to))
    assert [s.kind for s in after.steps] == ([kind] if kind else [])


@pytest.mark.parametrize(
    ("facts", "output", "suffix", "codec", "bitrate"),
    [
        (sound(), None, ".mp3", "libmp3lame", 128_000),  # the source's own format, kept
        (
            sound(container="ogg", extension="ogg", codec="opus", bit_rate=64_000),
            None,
            ".m4a",
            "aac",
            64_000,
        ),
        (
            sound(container="flac", extension="flac", codec="flac", bit_rate=900_000),
            None,
            ".m4a",
            "aac",
            128_000,
        ),
        (sound(), "/out/v.wav", ".wav", "pcm_s16le", None),
    ],
)
def test_convert_audio(
    facts: MediaFacts, output: str | None, suffix: str, codec: str, bitrate: int | None
) -> None:
    src = ainput(facts, output)
    after = convert_audio(src.findings.get("audio.format"), afirst(src), src)
    assert (after.suffix, after.codec, after.bitrate) == (suffix, codec, bitrate)


def test_convert_audio_refuses_a_name_the_profile_rejects() -> None:
    src = ainput(sound(), "/out/v.ogg")
    with pytest.raises(Unfixable, match=r"cannot write \.ogg"):
        convert_audio(None, afirst(src), src)


def test_compress_audio_fits_the_bit_rate_and_swaps_wav_that_cannot_fit() -> None:
    src = ainput(
        sound(
            duration=50.0,
            size=30_000_000,
            codec="pcm_s16le",
            container="wav",
            extension="wav",
            rate=48000,
        )
    )
    wav = convert_audio(None, afirst(src), src)
    assert wav.codec == "pcm_s16le"
    small = replace(
        KLING,
        rules={
            **KLING.rules,
            "audio.size": replace(KLING.rules["audio.size"], params={"max_bytes": 400_000}),
        },
    )
    src = replace(src, profile=small)
    after = compress_audio(None, wav, src)
    assert after.suffix == ".m4a"
    assert "written as .m4a instead" in after.warnings[0]
    assert after.compress
    assert after.bitrate is not None
    assert after.bitrate * 50 / 8 < 400_000
    with pytest.raises(Unfixable, match=r"write \.m4a or \.mp3 instead"):
        compress_audio(None, wav, replace(src, output="/out/v.wav"))


def _with(facts: MediaFacts, profile_name: str, **options: Any) -> VideoInput:
    src, _ = vinput(facts, **options)
    profile = load_profile(profile_name)
    failing = {f.rule: f for f in errors_in(check_facts(facts, profile, "video"))}
    return replace(src, profile=profile, findings=failing)


@pytest.mark.parametrize(
    ("fps", "rate", "frames"),
    [(25.0, "25", None), (120.0, "60", None), (10.0, "15", None)],
)
def test_fit_frame_rate_resamples_to_the_nearest_bound(
    fps: float, rate: str, frames: int | None
) -> None:
    src = _with(video(fps=fps), "videoretalk")  # 15-60 fps
    after = fit_frame_rate(src.findings.get("video.frame_rate"), start(src), src)
    assert str(after.rate) == rate
    assert after.reencode is (fps != 25.0)
    assert after.have == int(5.0 * after.fps)  # the window is counted at the new rate
    assert after.frames == frames


def test_keep_metadata_remuxes_unless_the_rate_is_unknown() -> None:
    finding = Finding("video.metadata", Severity.ERROR, "no frame rate", fixable=True)
    src, _ = vinput(video())
    assert not keep_metadata(finding, start(src), src).reencode  # MP4 writes the header
    unknown, _ = vinput(video(fps=None))
    assert keep_metadata(finding, start(unknown), unknown).reencode
    assert keep_metadata(None, start(src), src) == start(src)


def test_first_stream_keeps_the_first_audio_stream_and_says_so() -> None:
    src = ainput(replace(sound(), audio_streams=2))
    finding = Finding("audio.streams", Severity.WARNING, "2 audio streams", fixable=True)
    after = first_stream(finding, afirst(src), src)
    assert after.warnings == ("only the first of 2 audio streams is kept",)
    assert not after.steps  # still a copy when nothing else changes
