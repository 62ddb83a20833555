"""Real fixes on generated media, each output judged by an independent ffprobe reading.

Encodes use ``-preset ultrafast`` (quality is not the point here) so the suite stays quick.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from _independent import assert_passes, assert_reencoded, read

from preflight.fixing import FixOptions, Strategy, fix, fix_pair
from preflight.model.profile import Profile
from preflight.rules.profiles import load_profile
from preflight.toolchain.runner import temp_path_for

FAST = FixOptions(preset="ultrafast", quality=False)


@pytest.fixture(scope="module")
def kling() -> Profile:
    return load_profile("kling-lipsync")


def user_profile(tmp_path: Path, body: str) -> Profile:
    path = tmp_path / "mine.toml"
    path.write_text(f'extends = "kling-lipsync"\n{body}')
    return load_profile(path)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# name -> (strategy, display size after the fix or None to skip, duration after or None)
CASES: dict[str, tuple[Strategy, tuple[int, int] | None, float | None]] = {
    "mkv": (Strategy.REMUX, (1280, 720), None),
    "lying": (Strategy.REMUX, (1280, 720), None),
    "mkv_pcm": (Strategy.REMUX, (1280, 720), None),
    "webm": (Strategy.REENCODE, (1280, 720), None),
    "avi": (Strategy.REENCODE, (1280, 720), None),
    "short": (Strategy.REENCODE, (1280, 720), 2.04),
    "long": (Strategy.REENCODE, (1280, 720), 9.96),
    "small": (Strategy.REENCODE, (1280, 720), None),
    "portrait_narrow": (Strategy.REENCODE, (720, 1282), None),
    "wide_1922": (Strategy.REENCODE, (1920, 1078), None),
    "uhd": (Strategy.REENCODE, (1920, 1080), None),
    "rotated_uhd": (Strategy.REENCODE, (1080, 1920), None),
    "banner": (Strategy.REENCODE, (1920, 720), None),
    "square_2160": (Strategy.REENCODE, (1920, 1920), None),
    "huge": (Strategy.REENCODE, (1280, 720), None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fix_makes_a_passing_file(
    name: str, media: Callable[[str], Path], tmp_path: Path, ffprobe_bin: str, kling: Profile
) -> None:
    src = media(name)
    before = digest(src) if src.stat().st_size < 50_000_000 else src.stat().st_mtime_ns
    out = tmp_path / f"{name}.mp4"
    strategy, size, duration = CASES[name]

    result = fix(src, profile=kling, output=out, options=FAST)

    assert result.status == "fixed", result.message
    assert result.plan is not None
    assert result.plan.strategy is strategy
    reading = read(ffprobe_bin, out)
    assert_passes(reading, out, kling)
    assert (reading.width, reading.height) == size
    if duration is not None:
        assert reading.duration == pytest.approx(duration, abs=0.001)
    if strategy is Strategy.REENCODE:
        assert_reencoded(reading)
        assert reading.acodec == "aac"
    else:
        assert "libx264" not in result.commands[0]
    if name == "mkv_pcm":
        assert reading.acodec == "aac"
    if name == "rotated_uhd":  # the pixels are turned: portrait frames, no display matrix left
        assert reading.raw["streams"][0]["height"] > reading.raw["streams"][0]["width"]
        assert any(c.key == "video.rotation" and c.after == 0 for c in result.changes)
    assert result.changes
    assert not temp_path_for(out).exists()
    after = digest(src) if src.stat().st_size < 50_000_000 else src.stat().st_mtime_ns
    assert after == before  # the input is never touched


@pytest.mark.parametrize("name", ["mov_pcm", "vfr", "ten_bit", "odd", "noaudio", "av_mismatch"])
def test_compliant_inputs_come_back_byte_identical(
    name: str, media: Callable[[str], Path], tmp_path: Path, ffprobe_bin: str, kling: Profile
) -> None:
    src = media(name)
    out = tmp_path / f"copy{src.suffix}"
    result = fix(src, profile=kling, output=out, options=FAST)
    assert result.status == "copied"
    assert "copied byte for byte" in result.message
    assert out.read_bytes() == src.read_bytes()
    assert_passes(read(ffprobe_bin, out), out, kling)
    skipped = fix(src, profile=kling, out_dir=tmp_path / "dir", options=FAST)
    assert skipped.status == "skipped"
    assert skipped.output is None


@pytest.mark.parametrize("name", ["vfr", "ten_bit", "odd", "hdr_pq", "noaudio"])
def test_forced_reencodes_are_constant_rate_8bit_even(
    name: str, media: Callable[[str], Path], tmp_path: Path, ffprobe_bin: str
) -> None:
    profile = user_profile(tmp_path, '[rules."video.duration"]\nmin = 0.5\nmax = 2.5\n')
    out = tmp_path / "o.mp4"
    result = fix(media(name), profile=profile, output=out, options=FAST)
    assert result.status == "fixed", result.message
    reading = read(ffprobe_bin, out)
    assert_passes(reading, out, profile)
    assert_reencoded(reading)
    assert reading.frame_rate is not None
    num, den = (int(x) for x in reading.frame_rate.split("/"))
    assert reading.frames == round(reading.duration * num / den)
    assert result.plan is not None
    if name == "hdr_pq":
        assert any(s.kind == "tonemap" for s in result.plan.steps)
        assert reading.raw["streams"][0].get("color_transfer") != "smpte2084"
    if name == "noaudio":
        assert reading.acodec is None


def test_compress_to_size_with_a_user_profile(
    media: Callable[[str], Path], tmp_path: Path, ffprobe_bin: str
) -> None:
    profile = user_profile(tmp_path, '[rules."video.size"]\nmax_bytes = 300_000\n')
    out = tmp_path / "small.mp4"
    result = fix(media("mkv"), profile=profile, output=out, options=FAST)
    assert result.status == "fixed", result.message
    assert result.plan is not None
    assert result.plan.compress
    reading = read(ffprobe_bin, out)
    assert_passes(reading, out, profile)
    assert reading.size <= 300_000
    assert len(result.attempts) <= 2
    assert result.attempts[-1].passed


def test_fit_audio_trims_a_long_audio_track_to_the_video(
    media: Callable[[str], Path], tmp_path: Path, ffprobe_bin: str, kling: Profile
) -> None:
    out = tmp_path / "fitted.mp4"
    options = FixOptions(preset="ultrafast", quality=False, fit_audio=True)
    result = fix(media("av_mismatch"), profile=kling, output=out, options=options)
    assert result.status == "fixed", result.message
    assert result.plan is not None
    assert result.plan.strategy is Strategy.REMUX  # the video is copied, not re-encoded
    reading = read(ffprobe_bin, out)
    assert_passes(reading, out, kling)
    assert reading.audio_duration is not None
    assert abs(reading.audio_duration - reading.duration) < 0.05
    assert float(reading.raw["format"]["duration"]) < 3.1


def test_ssim_is_reported_for_reencodes(
    media: Callable[[str], Path], tmp_path: Path, kling: Profile
) -> None:
    options = FixOptions(preset="ultrafast")
    result = fix(media("banner"), profile=kling, output=tmp_path / "b.mp4", options=options)
    assert result.ssim is not None
    assert 0.9 < result.ssim <= 1.0
    remux = fix(media("mkv"), profile=kling, output=tmp_path / "m.mp4", options=options)
    assert remux.ssim is None


def test_unfixable_inputs_leave_no_file(
    media: Callable[[str], Path], tmp_path: Path, kling: Profile
) -> None:
    not_media = tmp_path / "notes.mp4"
    not_media.write_text("hello\n")
    out = tmp_path / "out.mp4"
    result = fix(not_media, profile=kling, output=out)
    assert result.status == "unfixable"
    assert result.message
    assert not out.exists()
    audio_only = fix(media("mp3"), profile=kling, output=out, options=FAST)
    assert audio_only.ok  # an audio file is judged as an audio2video input
    same = fix(media("long"), profile=kling, output=media("long"))
    assert same.status == "unfixable"
    assert "overwrite the input" in same.message


def test_audio_inputs_for_audio2video(
    media: Callable[[str], Path], tmp_path: Path, ffprobe_bin: str
) -> None:
    profile = user_profile(
        tmp_path,
        '[rules."audio.duration"]\nmin = 5.0\nmax = 6.0\n'
        '[rules."audio.size"]\nmax_bytes = 30_000\n',
    )
    cases = {"flac": ".m4a", "long_audio": ".mp3", "mp3": ".mp3", "wav": ".m4a"}
    for name, suffix in cases.items():
        result = fix(media(name), profile=profile, out_dir=tmp_path, options=FAST)
        assert result.status == "fixed", (name, result.message)
        assert result.output is not None
        out = Path(result.output)
        assert out.suffix == suffix
        reading = read(ffprobe_bin, out)
        assert 5.0 <= reading.duration <= 6.0, (name, reading.duration)
        assert reading.size <= 30_000
        assert reading.vcodec is None
        assert reading.acodec in ("aac", "mp3")


def test_audio_longer_than_video_lengthens_the_video(
    media: Callable[[str], Path], tmp_path: Path, ffprobe_bin: str, kling: Profile
) -> None:
    vres, ares = fix_pair(
        media("ok"), media("long_audio"), profile=kling, out_dir=tmp_path, options=FAST
    )
    assert vres.status == "fixed", vres.message
    assert ares.ok
    assert vres.output is not None
    video = read(ffprobe_bin, Path(vres.output))
    assert_passes(video, Path(vres.output), kling)
    sound = read(ffprobe_bin, Path(ares.output or media("long_audio")))
    tolerance = kling.param("job.av_duration", "tolerance")
    assert abs(video.duration - sound.duration) <= tolerance
    assert video.duration > 8.0


def test_audio_shorter_than_the_trimmed_video_is_padded(
    media: Callable[[str], Path], tmp_path: Path, ffprobe_bin: str, kling: Profile
) -> None:
    vres, ares = fix_pair(
        media("long"), media("mp3"), profile=kling, out_dir=tmp_path, options=FAST
    )
    assert vres.status == "fixed", vres.message
    assert ares.status == "fixed", ares.message
    video = read(ffprobe_bin, Path(str(vres.output)))
    sound = read(ffprobe_bin, Path(str(ares.output)))
    assert video.duration == pytest.approx(9.96, abs=0.001)
    assert abs(sound.duration - video.duration) < 0.1
    assert Path(str(ares.output)).suffix == ".mp3"


def test_start_end_window_is_frame_accurate(
    media: Callable[[str], Path], tmp_path: Path, ffprobe_bin: str, kling: Profile
) -> None:
    import numpy as np

    from preflight.toolchain.runner import read_frames

    src, out = media("long"), tmp_path / "window.mp4"
    options = FixOptions(preset="ultrafast", quality=False, start=5.0, end=8.0, crf=10)
    result = fix(src, profile=kling, output=out, options=options)
    assert result.status == "fixed", result.message
    reading = read(ffprobe_bin, out)
    assert reading.duration == pytest.approx(3.0, abs=0.001)
    assert reading.frames == 75

    def frame(path: Path, at: float) -> np.ndarray:
        raw = next(read_frames(path, width=320, height=180, start=at, duration=0.04))
        return np.frombuffer(raw, np.uint8).astype(int)

    first = frame(out, 0.0)
    errors = {at: np.abs(first - frame(src, at)).mean() for at in (4.96, 5.0, 5.04)}
    assert min(errors, key=lambda at: errors[at]) == 5.0  # the kept window starts on 5.00 s


def test_loop_extension_and_centre_crop(
    media: Callable[[str], Path], tmp_path: Path, ffprobe_bin: str, kling: Profile
) -> None:
    looped = tmp_path / "looped.mp4"
    options = FixOptions(preset="ultrafast", quality=False, extend="loop")
    result = fix(media("short"), profile=kling, output=looped, options=options)
    assert result.status == "fixed", result.message
    reading = read(ffprobe_bin, looped)
    assert_passes(reading, looped, kling)
    assert reading.duration == pytest.approx(2.04, abs=0.001)
    assert reading.audio_duration is not None
    assert reading.audio_duration == pytest.approx(2.04, abs=0.03)

    cropped = tmp_path / "cropped.mp4"
    options = FixOptions(preset="ultrafast", quality=False, aspect="crop")
    result = fix(media("banner"), profile=kling, output=cropped, options=options)
    assert result.status == "fixed", result.message
    reading = read(ffprobe_bin, cropped)
    assert_passes(reading, cropped, kling)
    assert (reading.width, reading.height) == (1920, 720)
