"""The planner, table-driven: MediaFacts built by hand in, a FixPlan out. No FFmpeg, no probe."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from preflight.fixing.graph import encode_args
from preflight.fixing.plan import FixOptions, FixPlan, Strategy
from preflight.fixing.planner import Capabilities, plan
from preflight.fixing.verify import check_facts
from preflight.model.facts import AudioStream, MediaFacts, VideoStream
from preflight.model.findings import Finding, Severity
from preflight.model.profile import Profile
from preflight.rules.profiles import load_profile


@pytest.fixture(scope="module")
def kling() -> Profile:
    return load_profile("kling-lipsync")


def clip(
    name: str = "clip.mp4",
    *,
    container: str = "mp4",
    width: int = 1280,
    height: int = 720,
    duration: float = 4.0,
    codec: str = "h264",
    audio: str | None = "aac",
    size: int = 2_000_000,
    **video: Any,
) -> MediaFacts:
    stream = VideoStream(
        codec=codec,
        width=width,
        height=height,
        coded_width=width,
        coded_height=height,
        duration=duration,
        frame_rate=video.pop("frame_rate", 25.0),
        bit_rate=int(size * 8 / duration) - (128_000 if audio else 0),
        **video,
    )
    track = None
    if audio:
        track = AudioStream(
            codec=audio, sample_rate=48000, channels=2, duration=duration, bit_rate=128_000
        )
    return MediaFacts(
        source=f"/in/{name}",
        backend="test",
        container=container,
        extension=name.rsplit(".", 1)[-1],
        size_bytes=size,
        duration=duration,
        video=stream,
        audio=track,
        video_streams=1,
        audio_streams=1 if track else 0,
    )


def sound(
    name: str = "voice.mp3",
    *,
    container: str = "mp3",
    codec: str = "mp3",
    duration: float = 4.0,
    size: int = 64_000,
    bit_rate: int | None = 128_000,
) -> MediaFacts:
    track = AudioStream(
        codec=codec, sample_rate=44100, channels=1, duration=duration, bit_rate=bit_rate
    )
    return MediaFacts(
        source=f"/in/{name}",
        backend="test",
        container=container,
        extension=name.rsplit(".", 1)[-1],
        size_bytes=size,
        duration=duration,
        audio=track,
        audio_streams=1,
    )


def make(facts: MediaFacts, profile: Profile, **options: Any) -> FixPlan:
    role = "audio" if facts.video is None else "video"
    findings = check_facts(facts, profile, role)
    caps = Capabilities(tonemap=options.pop("tonemap", True))
    output = options.pop("output", None)
    return plan(facts, findings, profile, FixOptions(**options), output=output, capabilities=caps)


def kinds(p: FixPlan) -> list[str]:
    return [s.kind for s in p.steps]


def test_compliant_input_is_copied_or_left_alone(kling: Profile) -> None:
    assert make(clip(), kling).strategy is Strategy.NONE
    assert make(clip(), kling).target is None
    copied = make(clip(), kling, output="/out/x.mp4")
    assert copied.strategy is Strategy.NONE
    assert copied.target == "/out/x.mp4"
    assert kinds(copied) == ["copy"]


@pytest.mark.parametrize(
    ("container", "vcodec", "acodec", "strategy", "video", "audio"),
    [
        ("matroska", "h264", "aac", Strategy.REMUX, "copy", "copy"),
        ("matroska", "hevc", "mp3", Strategy.REMUX, "copy", "copy"),
        ("matroska", "h264", "pcm_s16le", Strategy.REMUX, "copy", "aac"),
        ("avi", "h264", None, Strategy.REMUX, "copy", None),
        ("webm", "vp9", "opus", Strategy.REENCODE, "libx264", "aac"),
        ("avi", "mpeg4", "mp3", Strategy.REENCODE, "libx264", "aac"),
    ],
)
def test_wrong_container_is_remuxed_when_the_codecs_allow(
    kling: Profile,
    container: str,
    vcodec: str,
    acodec: str | None,
    strategy: Strategy,
    video: str,
    audio: str | None,
) -> None:
    p = make(clip("in.mkv", container=container, codec=vcodec, audio=acodec), kling)
    assert p.strategy is strategy
    assert p.video is not None
    assert p.video.codec == video
    assert (p.audio.codec if p.audio else None) == audio
    assert p.target == "/in/in.fixed.mp4"
    args = encode_args(p, "/out/.x.mp4")
    assert "+faststart" in args
    if strategy is Strategy.REMUX:
        assert "libx264" not in args
        assert args[args.index("-c:v") + 1] == "copy"


def test_hevc_remux_is_tagged_hvc1(kling: Profile) -> None:
    p = make(clip("in.mkv", container="matroska", codec="hevc"), kling)
    assert "hvc1" in encode_args(p, "/out/x.mp4")


def test_too_long_is_trimmed_one_frame_inside_the_limit(kling: Profile) -> None:
    p = make(clip(duration=15.0), kling)
    assert p.strategy is Strategy.REENCODE
    assert p.video is not None
    assert p.video.frames == 249
    assert p.duration == pytest.approx(9.96)
    assert p.start == 0.0
    assert "trim" in kinds(p)


def test_trim_window_follows_start_and_end(kling: Profile) -> None:
    p = make(clip(duration=30.0), kling, start=12.0, end=16.0)
    assert p.start == 12.0
    assert p.video is not None
    assert p.video.frames == 100
    assert "-ss" in encode_args(p, "/o.mp4")
    longer = make(clip(duration=30.0), kling, start=5.0, end=25.0)
    assert longer.video is not None
    assert longer.video.frames == 249
    assert any("only its first" in w for w in longer.warnings)


def test_ntsc_rate_trim_lands_inside(kling: Profile) -> None:
    p = make(clip(duration=15.0, frame_rate=29.97), kling)
    assert p.video is not None
    assert p.video.frame_rate == "30000/1001"
    assert p.duration is not None
    assert p.duration < 10.0
    assert p.duration > 10.0 - 2 * 1001 / 30000


@pytest.mark.parametrize("mode", ["freeze", "loop"])
def test_too_short_is_extended(kling: Profile, mode: str) -> None:
    p = make(clip(duration=1.0), kling, extend=mode)
    assert p.video is not None
    assert p.video.frames == 51
    assert p.video.extend == mode
    assert p.duration == pytest.approx(2.04)
    args = encode_args(p, "/o.mp4")
    if mode == "freeze":
        assert any("tpad=" in a for a in args)
    else:
        assert args[args.index("-stream_loop") + 1] == "-1"
    assert any("apad=whole_dur=2.04" in a for a in args)


@pytest.mark.parametrize(
    ("facts", "size", "fit"),
    [
        (clip(width=3840, height=2160), (1920, 1080), "scale"),
        (clip(width=2160, height=3840, rotation=90), (1080, 1920), "scale"),
        (clip(width=3000, height=600), (1920, 720), "pad"),
        (clip(width=2160, height=2160), (1920, 1920), "scale"),
        (clip(width=640, height=360), (1280, 720), "scale"),
    ],
)
def test_size_is_fixed_in_display_pixels(
    kling: Profile, facts: MediaFacts, size: tuple[int, int], fit: str
) -> None:
    p = make(facts, kling)
    assert p.video is not None
    assert (p.video.width, p.video.height) == size
    assert p.video.fit == fit


def test_banner_crop_and_the_plan_says_so(kling: Profile) -> None:
    p = make(clip(width=3000, height=600), kling, aspect="crop")
    assert p.video is not None
    assert p.video.fit == "crop"
    assert "crop" in kinds(p)
    assert any("no single scale fits" in s.reason for s in p.steps)
    assert any("upscaled" in w for w in p.warnings)


def test_upscaling_is_a_warning(kling: Profile) -> None:
    assert any("upscaled 2.00x" in w for w in make(clip(width=640, height=360), kling).warnings)


def test_over_size_compresses_without_inflating(kling: Profile) -> None:
    small = replace(
        kling,
        rules={
            **kling.rules,
            "video.size": replace(kling.rules["video.size"], params={"max_bytes": 1_000_000}),
        },
    )
    p = make(clip(size=3_000_000, duration=4.0), small)
    assert p.compress
    assert p.video is not None
    assert p.video.crf is None  # a tight budget: a bit-rate encode aimed at the limit
    assert p.video.bitrate is not None
    audio = p.audio.bitrate if p.audio and p.audio.bitrate else 0
    assert (p.video.bitrate + audio) * 4.0 / 8 < 1_000_000
    assert p.video.bitrate > 0.85 * (1_000_000 * 8 / 4.0 - audio) * 0.9
    # the target is also the ceiling, with a buffer small enough that one encode cannot overshoot
    args = encode_args(p, "/out/x.mp4")
    assert args[args.index("-maxrate") + 1] == args[args.index("-b:v") + 1]
    assert int(args[args.index("-bufsize") + 1]) <= 0.05 * p.video.bitrate * 4.0
    # trimmed to fit the duration, a file under the limit keeps CRF quality (no inflation)
    q = make(clip(size=900_000, duration=15.0, width=3840, height=2160), small)
    assert not q.compress
    # a loose budget (well above what CRF would spend) is still the target: one bit-rate encode
    # lands near the limit, never above the source's own rate
    loose = make(clip(size=110_000_000, duration=2.4, codec="prores"), kling)
    assert loose.compress
    assert loose.video is not None
    assert loose.video.crf is None
    assert loose.video.bitrate is not None
    assert 0.85 * 100_000_000 < loose.video.bitrate * 2.4 / 8 < 100_000_000


def test_ten_bit_and_hdr_become_8bit_sdr(kling: Profile) -> None:
    hdr = clip(duration=15.0, bit_depth=10, color_transfer="smpte2084", codec="hevc")
    p = make(hdr, kling)
    assert p.video is not None
    assert p.video.tonemap
    assert any("tonemap=" in a for a in encode_args(p, "/o.mp4"))
    no_filters = make(hdr, kling, tonemap=False)
    assert no_filters.video is not None
    assert not no_filters.video.tonemap
    assert any("lacks zscale/tonemap" in w for w in no_filters.warnings)


def test_vfr_becomes_constant_rate_when_reencoded(kling: Profile) -> None:
    p = make(clip(duration=15.0, variable_frame_rate=True, frame_rate=22.5), kling)
    assert "frame-rate" in kinds(p)
    assert any("fps=fps=45/2" in a for a in encode_args(p, "/o.mp4"))


def test_fit_audio_refits_embedded_audio_and_copies_video(kling: Profile) -> None:
    facts = clip(duration=4.0)
    facts = replace(facts, audio=replace(facts.audio, duration=8.0))  # type: ignore[type-var]
    p = make(facts, kling, fit_audio=True)
    assert p.strategy is Strategy.REMUX
    assert p.video is not None
    assert p.video.codec == "copy"
    assert p.audio is not None
    assert p.audio.pad_to == 4.0
    assert p.duration == 4.0


def test_unreadable_and_videoless_inputs_are_unfixable(kling: Profile) -> None:
    unreadable = Finding("input.readable", Severity.ERROR, "video: not a media file")
    p = plan(None, [unreadable], kling)
    assert p.strategy is Strategy.UNFIXABLE
    assert "not a media file" in p.reason
    no_video = Finding("video.stream", Severity.ERROR, "x has no video stream")
    p = plan(clip(), [no_video], kling)
    assert p.strategy is Strategy.UNFIXABLE


def test_start_past_the_end_is_unfixable(kling: Profile) -> None:
    p = make(clip(duration=4.0), kling, start=5.0)
    assert p.strategy is Strategy.UNFIXABLE
    assert "past the end" in p.reason


def test_audio_inputs(kling: Profile) -> None:
    flac = make(sound("v.flac", container="flac", codec="flac", bit_rate=None), kling)
    assert flac.strategy is Strategy.AUDIO
    assert flac.target == "/in/v.fixed.m4a"
    assert flac.container == "ipod"
    assert flac.audio is not None
    assert flac.audio.codec == "aac"

    long = make(sound(duration=75.0, size=1_200_000), kling)
    assert long.target == "/in/voice.fixed.mp3"
    assert long.duration is not None
    assert long.duration <= 60.0
    assert "trim" in kinds(long)

    short = make(sound(duration=1.0), kling)
    assert short.audio is not None
    assert short.audio.pad_to is not None
    assert short.audio.pad_to >= 2.0

    big = make(sound(duration=50.0, size=8_000_000, bit_rate=1_280_000), kling)
    assert big.compress
    assert big.audio is not None
    assert big.audio.bitrate is not None
    assert big.audio.bitrate * 50 / 8 < 5_000_000

    wav = make(
        sound(
            "v.wav",
            container="wav",
            codec="pcm_s16le",
            duration=70.0,
            size=6_200_000,
            bit_rate=705_600,
        ),
        kling,
    )
    assert wav.target == "/in/v.fixed.m4a"
    assert any("written as .m4a" in w for w in wav.warnings)
    forced = make(
        sound(
            "v.wav",
            container="wav",
            codec="pcm_s16le",
            duration=59.0,
            size=5_200_000,
            bit_rate=705_600,
        ),
        kling,
        output="/o/v.wav",
    )
    assert forced.strategy is Strategy.UNFIXABLE
    assert ".m4a or .mp3" in forced.reason


def test_wrong_extension_alone_is_a_copy_into_the_right_name(kling: Profile) -> None:
    p = make(sound("voice.ogg", container="mp3"), kling)
    assert p.strategy is Strategy.AUDIO
    assert p.audio is not None
    assert p.audio.codec == "copy"
    assert p.target == "/in/voice.fixed.mp3"


def test_audio_is_taken_from_a_video_when_it_plays_the_audio_role(kling: Profile) -> None:
    p = make(clip("voice.mkv", container="matroska"), kling, role="audio", fit_to=6.0)
    assert p.strategy is Strategy.AUDIO
    assert p.target == "/in/voice.fixed.m4a"
    args = encode_args(p, "/o/x.m4a")
    assert "-vn" in args
    assert args[args.index("-c:a") + 1] == "aac"
    assert p.audio is not None
    assert p.audio.pad_to == 6.0


def test_a_video_output_must_be_named_mp4_or_mov(kling: Profile) -> None:
    p = make(clip("in.mkv", container="matroska"), kling, output="/o/out.mkv")
    assert p.strategy is Strategy.UNFIXABLE
    assert ".mp4" in p.reason
    assert make(clip("in.mkv", container="matroska"), kling, output="/o/out.mov").target == (
        "/o/out.mov"
    )


def test_a_thread_bound_holds_decoder_filters_and_encoder_not_only_the_encoder(
    kling: Profile,
) -> None:
    """An engine runs one item per core (`threads=1`): the encoder alone held to one thread still
    left decoding, scaling and the SSIM pass spreading over every core."""
    from preflight.fixing.graph import ssim_args

    p = make(clip(duration=15.0), kling)
    free = encode_args(p, "/o.mp4")
    assert "-filter_threads" not in free
    assert "-threads" not in free[: free.index("-i")]
    for args in (encode_args(p, "/o.mp4", threads=1), ssim_args(p, "/o.mp4", "/s.log", threads=1)):
        first_input = args.index("-i")
        assert args[args.index("-filter_threads") + 1] == "1"
        assert args[args.index("-filter_complex_threads") + 1] == "1"
        assert args.index("-filter_threads") < first_input  # global options go first
        assert args[args.index("-threads") + 1] == "1"
        assert args.index("-threads") < first_input  # the decoder's, before its -i
    ssim = ssim_args(p, "/o.mp4", "/s.log", threads=1)
    assert ssim.count("-threads") == 2  # both decoders: the output and the source
