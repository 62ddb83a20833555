"""probe(): facts from generated media, and a clear InputError for everything unreadable.

Bad inputs are checked with both backends: the sniff and the local checks run before either, so
the verdict and the message must not depend on which one is used.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from preflight.model.errors import ConfigError, InputError
from preflight.model.facts import MediaFacts
from preflight.probing import probe, probe_many

Media = Callable[[str], Path]
BACKENDS = ["mediainfo", "ffprobe"]


def _cut(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def _moov_at_start(path: Path) -> bool:
    data = path.read_bytes()
    return data.find(b"moov") < data.find(b"mdat")


# --- good inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_baseline_clip(media: Media, backend: str) -> None:
    facts = probe(media("ok"), backend=backend)
    assert isinstance(facts, MediaFacts)
    assert facts.backend == backend
    assert facts.container == "mp4"
    assert facts.extension == "mp4"
    assert facts.size_bytes == media("ok").stat().st_size
    assert facts.duration == pytest.approx(4.0, abs=0.05)
    assert facts.video is not None
    assert facts.audio is not None
    assert (facts.video.codec, facts.video.width, facts.video.height) == ("h264", 1280, 720)
    assert facts.video.pix_fmt == "yuv420p"
    assert facts.video.bit_depth == 8
    assert facts.video.frame_rate == pytest.approx(25.0)
    assert not facts.video.variable_frame_rate
    assert facts.video.sample_aspect_ratio == "1:1"
    assert (facts.audio.codec, facts.audio.sample_rate, facts.audio.channels) == ("aac", 48000, 1)
    assert (facts.video_streams, facts.audio_streams) == (1, 1)
    assert facts.effective_duration == pytest.approx(4.0, abs=0.05)
    assert facts.duration_source == "video"


@pytest.mark.parametrize("backend", BACKENDS)
def test_rotation_applies_to_display_size(media: Media, backend: str) -> None:
    video = probe(media("rotated"), backend=backend).video
    assert video is not None
    assert (video.coded_width, video.coded_height) == (1280, 720)
    assert video.rotation == 90
    assert (video.width, video.height) == (720, 1280)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sample_aspect_ratio_applies_to_display_width(media: Media, backend: str) -> None:
    video = probe(media("anamorphic"), backend=backend).video
    assert video is not None
    assert (video.coded_width, video.coded_height) == (1440, 1080)
    assert video.sample_aspect_ratio == "4:3"
    assert (video.width, video.height) == (1920, 1080)


@pytest.mark.parametrize("backend", BACKENDS)
def test_variable_frame_rate_detected(media: Media, backend: str) -> None:
    video = probe(media("vfr"), backend=backend).video
    assert video is not None
    assert video.variable_frame_rate
    assert not probe(media("ok"), backend=backend).video.variable_frame_rate  # type: ignore[union-attr]


@pytest.mark.parametrize("backend", BACKENDS)
def test_ten_bit_hevc(media: Media, backend: str) -> None:
    video = probe(media("ten_bit"), backend=backend).video
    assert video is not None
    assert (video.codec, video.bit_depth, video.pix_fmt) == ("hevc", 10, "yuv420p10le")
    assert not video.hdr


@pytest.mark.parametrize("backend", BACKENDS)
def test_hdr_transfer(media: Media, backend: str) -> None:
    video = probe(media("hdr_pq"), backend=backend).video
    assert video is not None
    assert video.color_transfer == "smpte2084"
    assert video.hdr


@pytest.mark.parametrize("backend", BACKENDS)
def test_container_is_sniffed_not_taken_from_the_name(media: Media, backend: str) -> None:
    facts = probe(media("lying"), backend=backend)
    assert (facts.container, facts.extension) == ("matroska", "mp4")
    assert probe(media("ok_mov"), backend=backend).container == "mov"
    assert probe(media("mkv"), backend=backend).container == "matroska"
    assert probe(media("webm"), backend=backend).container == "webm"


def test_mov_content_with_mp4_name_is_mov(media: Media, tmp_path: Path) -> None:
    renamed = tmp_path / "really a mov.mp4"
    shutil.copyfile(media("ok_mov"), renamed)
    facts = probe(renamed)
    assert (facts.container, facts.extension) == ("mov", "mp4")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("name", "container", "codec"),
    [
        ("mp3", "mp3", "mp3"),
        ("wav", "wav", "pcm_s16le"),
        ("m4a", "mp4", "aac"),
        ("aac", "adts", "aac"),
        ("flac", "flac", "flac"),
    ],
)
def test_audio_only_files_have_no_video(
    media: Media, backend: str, name: str, container: str, codec: str
) -> None:
    facts = probe(media(name), backend=backend)
    assert facts.video is None
    assert facts.image is None
    assert facts.container == container
    assert facts.audio is not None
    assert facts.audio.codec == codec
    assert facts.audio.sample_rate == 44100
    # ADTS has no index: both backends estimate its length (see docs/probe.md)
    assert facts.effective_duration == pytest.approx(4.0, abs=0.1)
    assert facts.duration_source in ("container", "audio")


@pytest.mark.parametrize("backend", BACKENDS)
def test_video_without_audio_and_images(media: Media, backend: str) -> None:
    noaudio = probe(media("noaudio"), backend=backend)
    assert noaudio.video is not None
    assert noaudio.audio is None
    assert noaudio.audio_streams == 0
    jpg = probe(media("jpg"), backend=backend)
    assert jpg.video is None
    assert jpg.video_streams == 0
    assert jpg.duration is None
    assert jpg.container == "jpeg"
    assert jpg.image is not None
    assert (jpg.image.codec, jpg.image.width, jpg.image.height) == ("mjpeg", 720, 1280)
    png = probe(media("png_small"), backend=backend)
    assert png.container == "png"
    assert png.image is not None
    assert (png.image.codec, png.image.width) == ("png", 200)


@pytest.mark.parametrize("backend", BACKENDS)
def test_odd_names_just_work(media: Media, tmp_path: Path, backend: str) -> None:
    for name in ("-leading dash.mp4", "spaces  and 日本語 ✓.mp4", "colon:in name.mp4"):
        target = tmp_path / name
        shutil.copyfile(media("small"), target)
        facts = probe(target, backend=backend)
        assert facts.video is not None
        assert facts.video.width == 640
        assert facts.source == str(target)


def test_unicode_name_under_the_c_locale(media: Media, tmp_path: Path) -> None:
    """libmediainfo's own path opening fails here; the buffer API must not."""
    target = tmp_path / "ÿ clip 語.mp4"
    shutil.copyfile(media("small"), target)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}
    code = (
        "import sys; from preflight.probing import probe; "
        "f = probe(sys.argv[1]); print(f.video.width, f.container)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(target)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["640", "mp4"]


def test_relative_paths_and_pathlike(media: Media, monkeypatch: pytest.MonkeyPatch) -> None:
    path = media("small")
    monkeypatch.chdir(path.parent)
    facts = probe(path.name)
    assert facts.source == path.name
    assert probe(path).size_bytes == facts.size_bytes


def test_facts_are_json_ready(media: Media) -> None:
    data = probe(media("rotated")).to_dict()
    assert data["video"]["width"] == 720
    assert data["effective_duration"] == pytest.approx(4.0, abs=0.05)
    assert "extra" not in data


def test_unknown_backend_is_a_usage_error(media: Media) -> None:
    with pytest.raises(ConfigError, match="unknown probe backend 'vlc'"):
        probe(media("ok"), backend="vlc")


# --- bad inputs --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_path(tmp_path: Path, backend: str) -> None:
    with pytest.raises(InputError, match=r"^no such file$") as info:
        probe(tmp_path / "nope.mp4", backend=backend)
    assert info.value.source == str(tmp_path / "nope.mp4")


@pytest.mark.parametrize("backend", BACKENDS)
def test_directory(tmp_path: Path, backend: str) -> None:
    with pytest.raises(InputError, match="is a directory"):
        probe(tmp_path, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_byte_file(tmp_path: Path, backend: str) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(InputError, match=r"empty file \(0 bytes\)"):
        probe(empty, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_text_renamed_mp4(tmp_path: Path, backend: str) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("These are my meeting notes, not a video.\nSecond line.\n")
    with pytest.raises(InputError, match="not a media file: its content is plain text"):
        probe(fake, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_bytes(tmp_path: Path, backend: str) -> None:
    junk = tmp_path / "junk.mov"
    junk.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(InputError, match="not a media file"):
        probe(junk, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_truncated_mp4_with_index_at_the_end(media: Media, tmp_path: Path, backend: str) -> None:
    source = media("small")
    assert not _moov_at_start(source)
    cut = _cut(source, tmp_path / "cut.mp4", 0.3)
    with pytest.raises(InputError, match=r"truncated MP4 file: .*index \(moov box\) is missing"):
        probe(cut, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_truncated_mp4_with_index_at_the_start(media: Media, tmp_path: Path, backend: str) -> None:
    source = media("ok")  # made with +faststart
    assert _moov_at_start(source)
    cut = _cut(source, tmp_path / "cut.mp4", 0.5)
    with pytest.raises(
        InputError, match=r"truncated MP4 file: it ends inside the media data"
    ) as info:
        probe(cut, backend=backend)
    assert "missing" not in str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("mkv", "truncated Matroska file"),
        ("webm", "truncated WebM file"),
        ("wav", "truncated WAV file"),
        ("avi", "truncated AVI file"),
        ("mp3", "truncated file: its header promises"),
        ("m4a", "truncated MP4 file"),
        ("ok_mov", "truncated MOV file"),
    ],
)
def test_truncated_other_formats(
    media: Media, tmp_path: Path, backend: str, name: str, pattern: str
) -> None:
    source = media(name)
    cut = _cut(source, tmp_path / f"cut{source.suffix}", 0.3)
    with pytest.raises(InputError, match=pattern):
        probe(cut, backend=backend)


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A directory others may enter (tmp_path's parents are private to the owner)."""
    path = Path(tempfile.mkdtemp(prefix="preflight-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _probe_as_nobody(path: Path, backend: str) -> str:
    """Root reads everything: probe in a forked child that dropped to uid/gid 65534."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        message = "no error"
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            probe(path, backend=backend)
        except InputError as exc:
            message = f"InputError: {exc}"
        except BaseException as exc:
            message = f"{type(exc).__name__}: {exc}"
        finally:
            os.write(write_end, message.encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        out = fh.read().decode()
    os.waitpid(pid, 0)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_permission_denied(media: Media, world_dir: Path, backend: str) -> None:
    locked = world_dir / "locked.mp4"
    shutil.copyfile(media("small"), locked)
    locked.chmod(0)
    try:
        if os.geteuid() == 0:
            message = _probe_as_nobody(locked, backend)
        else:
            try:
                probe(locked, backend=backend)
                message = "no error"
            except InputError as exc:
                message = f"InputError: {exc}"
    finally:
        locked.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert message == "InputError: permission denied: the file cannot be read"


def test_input_is_never_modified(media: Media, tmp_path: Path) -> None:
    target = tmp_path / "clip.mp4"
    shutil.copyfile(media("ok"), target)
    before = (target.read_bytes(), target.stat().st_mtime_ns)
    probe(target)
    probe(target, backend="ffprobe")
    assert (target.read_bytes(), target.stat().st_mtime_ns) == before


# --- many --------------------------------------------------------------------------------------


def test_probe_many_keeps_order_and_isolates_failures(media: Media, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    sources: list[str | os.PathLike[str]] = [
        media("ok"),
        tmp_path / "missing.mp4",
        media("mp3"),
        empty,
        str(media("rotated")),
    ]
    results = probe_many(sources, workers=2)
    assert len(results) == 5
    assert isinstance(results[0], MediaFacts)
    assert results[0].video is not None
    assert isinstance(results[1], InputError)
    assert str(results[1]) == "no such file"
    assert isinstance(results[2], MediaFacts)
    assert results[2].container == "mp3"
    assert isinstance(results[3], InputError)
    assert results[3].source == str(empty)
    assert isinstance(results[4], MediaFacts)
    assert results[4].source == str(media("rotated"))
    assert probe_many([]) == []


def test_probe_many_matches_probe(media: Media) -> None:
    names = ["ok", "ok_mov", "vfr", "anamorphic", "wav", "jpg"] * 3
    paths = [media(n) for n in names]
    assert probe_many(paths, workers=2) == [probe(p) for p in paths]
    assert probe_many(paths, workers=1) == [probe(p) for p in paths]
