"""Face rules: table-driven on made-up measurements, then end to end on real clips."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from preflight.checking.evaluate import evaluate
from preflight.checking.faces import FACE_RULES, face_settings, with_face_analysis
from preflight.model.facts import MediaFacts, VideoStream
from preflight.model.findings import Finding, Severity
from preflight.model.job import Job
from preflight.rules.face import SKIPPED, failing, runs, sample_failures
from preflight.rules.profiles import load_profile
from preflight.vision.analysis import FaceAnalysis, FaceBox, FaceSample, FaceSkipped
from preflight.vision.landmarks import NOSE_DEPTH

ROOT = Path(__file__).resolve().parent.parent
PROFILE = load_profile("kling-lipsync")
SETTINGS = face_settings(PROFILE)
INTERVAL = 0.25

FaceJob = Callable[[str], Any]


# --- made-up measurements -------------------------------------------------------------------


def facts(duration: float = 4.0, width: int = 1280, height: int = 720) -> MediaFacts:
    return MediaFacts(
        source="clip.mp4",
        backend="test",
        container="mp4",
        extension="mp4",
        size_bytes=1000,
        duration=duration,
        video=VideoStream(codec="h264", width=width, height=height, duration=duration),
        video_streams=1,
    )


def _points(x: float, y: float, side: float, turn: float = 0.0) -> tuple[tuple[float, float], ...]:
    """BlazeFace's six keypoints of a frontal face in the box (x, y, side, side): eyes, nose tip,
    mouth centre, ear tragions. ``turn`` moves the nose tip sideways by that many half eye
    distances, and the ears the other way as a head turned that far would show them."""
    half = 0.2 * side
    cx = x + side / 2
    nose = cx + turn * half
    ears = nose - math.sin(math.atan2(turn, NOSE_DEPTH)) * 2.2 * half  # their midpoint
    return (
        (cx - half, y + 0.4 * side),
        (cx + half, y + 0.4 * side),
        (nose, y + 0.6 * side),
        (cx, y + 0.8 * side),
        (ears - 2.2 * half, y + 0.5 * side),
        (ears + 2.2 * half, y + 0.5 * side),
    )


def good(i: int, **changes: Any) -> FaceSample:
    """A sample with one 140 px, frontal, well-lit, sharp face in the middle of a 1280x720 frame,
    its mouth in view."""
    base = FaceSample(
        index=i,
        time=i * INTERVAL,
        faces=(FaceBox(570, 200, 140, 140, 0.9, _points(570, 200, 140)),),
        luma=150.0,
        contrast=50.0,
        sharpness=500.0,
        shift=None if i == 0 else 0.01,
        size_change=None if i == 0 else 0.01,
        yaw=2.0,
        mouth_detail=0.7,
    )
    return replace(base, **changes)


def empty(i: int) -> FaceSample:
    return FaceSample(index=i, time=i * INTERVAL)


def analysis(samples: list[FaceSample], duration: float | None = None) -> FaceAnalysis:
    return FaceAnalysis(
        source="clip.mp4",
        width=1280,
        height=720,
        sample_width=640,
        sample_height=360,
        interval=INTERVAL,
        duration=duration if duration is not None else len(samples) * INTERVAL,
        detector="test",
        samples=tuple(samples),
    )


def face_findings(job: Job, profile: Any = PROFILE) -> list[Finding]:
    return [f for f in evaluate(job, profile) if f.rule.startswith("face.")]


def judged(samples: list[FaceSample]) -> list[Finding]:
    a = analysis(samples)
    return face_findings(Job(name="t", video=facts(a.duration), analysis={"face": a}))


def test_sixteen_good_samples_pass() -> None:
    assert judged([good(i) for i in range(16)]) == []


def test_runs() -> None:
    assert runs([]) == []
    assert runs([False, True, True, False, True]) == [(1, 2), (4, 4)]
    assert runs([True, True]) == [(0, 1)]


CASES: list[tuple[str, Callable[[int], FaceSample], set[int], str, tuple[tuple[float, float], ...]]]
CASES = [
    # (rule expected, how the failing samples look, which samples fail, message part, ranges)
    ("face.present", empty, set(range(4, 8)), "no face for 1 s", ((1.0, 2.0),)),
    ("face.present", empty, set(range(16)), "no face in any sampled frame", ((0.0, 4.0),)),
    (
        "face.count",
        lambda i: good(i, faces=(FaceBox(100, 100, 140, 140), FaceBox(800, 100, 130, 130))),
        set(range(8, 16)),
        "2 faces in view",
        ((2.0, 4.0),),
    ),
    (
        "face.size",
        lambda i: good(i, faces=(FaceBox(600, 300, 60, 60),)),
        set(range(16)),
        "face is only 60 px (8%",
        ((0.0, 4.0),),
    ),
    (
        "face.count",
        lambda i: good(i, faces=(FaceBox(900, 100, 200, 200), FaceBox(100, 100, 120, 120))),
        set(range(16)),
        "the provider will use the largest, 200 px at the right of the frame",
        ((0.0, 4.0),),
    ),
    ("face.pose", lambda i: good(i, yaw=-68.0), set(range(4, 10)), "about 68°", ((1.0, 2.5),)),
    (
        "face.mouth",
        lambda i: good(i, mouth_detail=0.05),
        set(range(16)),
        "mouth not clearly visible (covered or blurred)",
        ((0.0, 4.0),),
    ),
    (
        "face.mouth",
        lambda i: good(i, faces=(FaceBox(570, 620, 140, 140, 0.9, _points(570, 620, 140)),)),
        set(range(12, 16)),
        "cut off by the frame's edge",
        ((3.0, 4.0),),
    ),
    ("face.lighting", lambda i: good(i, luma=20.0), {2, 3, 4}, "too dark (luma 20", ((0.5, 1.25),)),
    ("face.lighting", lambda i: good(i, luma=240.0), {10, 11}, "too bright", ((2.5, 3.0),)),
    ("face.lighting", lambda i: good(i, contrast=5.0), {0, 1}, "low in contrast", ((0.0, 0.5),)),
    ("face.sharpness", lambda i: good(i, sharpness=10.0), {5, 6}, "blurred", ((1.25, 1.75),)),
    ("face.stability", lambda i: good(i, shift=5.0), {8}, "jumps", ((1.75, 2.0),)),
    ("face.stability", lambda i: good(i, size_change=0.6), {3}, "size 2.4/s", ((0.5, 0.75),)),
]


@pytest.mark.parametrize(("rule", "bad", "where", "says", "ranges"), CASES)
def test_each_rule_names_its_time_ranges(
    rule: str,
    bad: Callable[[int], FaceSample],
    where: set[int],
    says: str,
    ranges: tuple[tuple[float, float], ...],
) -> None:
    samples = [bad(i) if i in where else good(i) for i in range(16)]
    found = judged(samples)
    assert [f.rule for f in found] == [rule], found
    (finding,) = found
    assert says in finding.message
    assert finding.ranges == ranges
    assert finding.severity is PROFILE.rules[rule].severity
    assert finding.to_dict()["ranges"] == [list(r) for r in ranges]


def test_a_stretch_shorter_than_the_tolerance_is_noise() -> None:
    # one sample without a face (0.25 s) is below face.present's 0.5 s tolerance
    assert judged([empty(i) if i == 5 else good(i) for i in range(16)]) == []
    # ...but scattered misses that leave too few frames with a face still fail on the share
    scattered = [empty(i) if i % 4 == 0 else good(i) for i in range(16)]
    (finding,) = judged(scattered)
    assert finding.rule == "face.present"
    assert finding.measured == 0.75
    assert len(finding.ranges) == 4


def test_no_samples_at_all() -> None:
    (finding,) = judged([])
    assert finding.rule == "face.present"
    assert "no frames" in finding.message


def test_params_come_from_the_profile(tmp_path: Path) -> None:
    custom = tmp_path / "lenient.toml"
    custom.write_text(
        textwrap.dedent(
            """
            title = "lenient"
            provider = "kling"
            endpoint = "test"
            extends = "kling-lipsync"
            [rules."face.size"]
            min_px = 50
            min_share = 0.05
            [rules."face.count"]
            max = 2
            """
        ),
        encoding="utf-8",
    )
    lenient = load_profile(custom)
    samples = [
        good(i, faces=(FaceBox(600, 300, 60, 60), FaceBox(100, 100, 55, 55))) for i in range(16)
    ]
    a = analysis(samples)
    job = Job(name="t", video=facts(), analysis={"face": a})
    assert {f.rule for f in face_findings(job)} == {"face.size", "face.count"}
    assert face_findings(job, lenient) == []


def test_sample_failures_list_every_failing_rule_per_sample() -> None:
    samples = [good(0), empty(1), good(2, luma=10.0, sharpness=5.0)]
    assert sample_failures(analysis(samples), SETTINGS) == [
        (),
        ("face.present",),
        ("face.lighting", "face.sharpness"),
    ]
    assert failing("face.present", analysis(samples), SETTINGS["face.present"]) == [
        False,
        True,
        False,
    ]


# --- when the analysis did not run -----------------------------------------------------------


def test_skipped_analysis_is_reported_as_info_never_as_pass() -> None:
    job = Job(name="t", video=facts(), analysis={"face": FaceSkipped(SKIPPED)})
    found = face_findings(job)
    assert [f.rule for f in found] == list(FACE_RULES)
    assert all(f.severity is Severity.INFO and f.message == SKIPPED for f in found)
    assert all(f.measured == "skipped" for f in found)


def test_jobs_without_video_are_not_judged() -> None:
    audio_only = replace(facts(), video=None, video_streams=0)
    assert face_findings(Job(name="t", video=audio_only)) == []
    assert face_findings(Job(name="t")) == []
    assert with_face_analysis(Job(name="t"), SETTINGS) == Job(name="t")


def test_turned_off_means_not_judged() -> None:
    # --no-face: the user turned the face rules off, like disabling them in a config file
    job = with_face_analysis(Job(name="t", video=facts()), SETTINGS, enabled=False)
    assert "face" not in job.analysis
    assert face_findings(job) == []


def test_a_skip_reason_is_reported_as_info() -> None:
    job = with_face_analysis(Job(name="t", video=facts()), SETTINGS, skip="not today")
    found = face_findings(job)
    assert [f.rule for f in found] == list(FACE_RULES)
    assert all(f.severity is Severity.INFO for f in found)
    assert all(f.message == "face checks skipped: not today" for f in found)


def test_no_analysis_when_the_profile_enables_no_face_rule() -> None:
    assert face_settings(load_profile("kling-image2video")) == {}
    job = Job(name="t", video=facts())
    assert with_face_analysis(job, {}) is job


def test_a_config_can_switch_face_rules_off_or_on() -> None:
    from types import MappingProxyType

    from preflight.checking.config import Config, RuleOverride

    off = Config(rules=MappingProxyType({r: RuleOverride(enabled=False) for r in FACE_RULES}))
    assert face_settings(PROFILE, off) == {}
    some = Config(rules=MappingProxyType({"face.count": RuleOverride(enabled=False)}))
    assert set(face_settings(PROFILE, some)) == set(FACE_RULES) - {"face.count"}
    # a profile without face rules gets one with its defaults when the config switches it on
    on = Config(rules=MappingProxyType({"face.present": RuleOverride(enabled=True)}))
    assert face_settings(load_profile("kling-image2video"), on) == {
        "face.present": {"min_share": 0.9, "tolerance": 0.5}
    }


def test_without_the_vision_extra_face_rules_are_skipped(face_media: Callable[[str], Path]) -> None:
    # a fresh interpreter in which OpenCV cannot be imported, checking a real clip with a face
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["cv2"] = None  # what an install without media-preflight[vision] looks like
        import preflight.vision
        assert not preflight.vision.available()
        from preflight.checking.check import check
        report = check([{str(face_media("still"))!r}], "kling-lipsync", text="hello",
                       voice_id="genshin_klee2", voice_language="en", cache=False)
        (result,) = report.results
        print(json.dumps([f.to_dict() for f in result.findings]))
        print(json.dumps(result.ok))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    findings, ok = json.loads(lines[-2]), json.loads(lines[-1])
    face = [f for f in findings if f["rule"].startswith("face.")]
    assert [f["rule"] for f in face] == list(FACE_RULES)
    assert all(f["severity"] == "info" for f in face)
    assert all(f["message"] == "face checks skipped: install media-preflight[vision]" for f in face)
    assert ok is True  # skipped checks neither pass nor fail the job


def test_undecodable_video_and_urls_are_skipped_with_the_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    job = with_face_analysis(Job(name="b", video=replace(facts(), source=str(broken))), SETTINGS)
    skipped = job.analysis["face"]
    assert isinstance(skipped, FaceSkipped)
    assert skipped.reason.startswith("face checks skipped: frames could not be decoded")
    # a URL is analysed from a fetched copy (test_one_verdict); one that cannot be fetched is
    # skipped with the reason (a loopback port nothing listens on: no network involved)
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    url = replace(facts(), source=f"http://127.0.0.1:{port}/clip.mp4")
    job = with_face_analysis(Job(name="u", video=url), SETTINGS)
    skipped = job.analysis["face"]
    assert isinstance(skipped, FaceSkipped)
    assert skipped.reason.startswith("face checks skipped: the video URL could not be fetched")


def test_no_face_never_imports_opencv(face_media: Callable[[str], Path]) -> None:
    # --no-face (or a profile without face rules) must cost nothing: OpenCV is not even imported
    script = textwrap.dedent(
        f"""
        import sys
        from preflight.checking.check import check
        check([{str(face_media("still"))!r}], "kling-lipsync", face=False, cache=False)
        check([{str(face_media("still"))!r}], "kling-image2video", cache=False)
        print(sorted(m for m in ("cv2", "numpy") if m in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


# --- real clips, end to end ------------------------------------------------------------------

EXPECTED: dict[str, tuple[str, tuple[tuple[float, float], ...]]] = {
    "none": ("face.present", ((0.0, 4.0),)),
    "two": ("face.count", ((0.0, 4.0),)),
    "tiny": ("face.size", ((0.0, 4.0),)),
    "dark": ("face.lighting", ((0.0, 4.0),)),
    "blurred": ("face.sharpness", ((0.0, 4.0),)),
    "leaves": ("face.present", ((3.0, 5.0),)),
    "small": ("face.size", ((0.0, 4.0),)),
    "profile": ("face.pose", ((0.0, 4.0),)),
    "covered": ("face.mouth", ((0.0, 4.0),)),
    "jump": ("face.stability", ((1.75, 2.0),)),
}


@pytest.mark.parametrize("clip", ["clear", "still", "rotated"])
def test_clips_with_one_clear_face_pass(face_job: FaceJob, clip: str) -> None:
    job = face_job(clip)
    assert isinstance(job.analysis["face"], FaceAnalysis)
    assert face_findings(job) == []


@pytest.mark.parametrize("clip", sorted(EXPECTED))
def test_each_bad_clip_fails_the_right_rule_at_the_right_time(face_job: FaceJob, clip: str) -> None:
    rule, expected = EXPECTED[clip]
    job = face_job(clip)
    interval = job.analysis["face"].interval
    found = face_findings(job)
    assert {f.rule for f in found} == {rule}, [f.message for f in found]
    spans = sorted({r for f in found for r in f.ranges})
    assert len(spans) == len(expected)
    for (start, end), (want_start, want_end) in zip(spans, expected, strict=True):
        assert start == pytest.approx(want_start, abs=interval)
        assert end == pytest.approx(want_end, abs=interval)


def test_a_small_face_is_small_not_missing(face_job: FaceJob) -> None:
    # the case: a portrait scaled to 220 px in a 1280x720 frame (face ~40x48 px)
    (finding,) = face_findings(face_job("small"))
    assert finding.rule == "face.size"
    assert 30 <= finding.measured <= 60
    assert "face is only" in finding.message


def test_face_size_is_judged_after_the_planned_scale() -> None:
    # a 140 px face passes in 720p, but a 3840x2160 video is sent at 1920x1080: 70 px
    samples = [good(i, faces=(FaceBox(1800, 1000, 140, 140),)) for i in range(16)]
    a = replace(analysis(samples), width=3840, height=2160)
    job = Job(name="t", video=facts(width=3840, height=2160), analysis={"face": a})
    (finding,) = face_findings(job)
    assert finding.rule == "face.size"
    assert finding.measured == 70
    assert "once scaled to about 1920x1080 (140 px in the 3840x2160 video)" in finding.message
    # without a frame window the face is judged as it is (and 140 px is 6% of 2160: too small)
    params = dict(SETTINGS["face.size"])
    del params["frame_min"], params["frame_max"]
    assert failing("face.size", a, {**params, "min_share": 0}) == [False] * 16
    assert failing("face.size", a, SETTINGS["face.size"]) == [True] * 16


@pytest.mark.parametrize(
    ("width", "height"),
    [(1280, 720), (3840, 2160), (640, 360), (480, 854), (4000, 600), (720, 720), (2160, 3840)],
)
def test_the_planned_scale_is_the_fixers(width: int, height: int) -> None:
    from preflight.fixing.geometry import fit_window
    from preflight.rules.face import planned_scale

    a = replace(analysis([good(0)]), width=width, height=height)
    params = {"frame_min": 720, "frame_max": 1920}
    fixer = fit_window(
        width, height, min_width=720, max_width=1920, min_height=720, max_height=1920
    )
    assert planned_scale(a, params) == pytest.approx(fixer.factor)
    assert planned_scale(a, {}) == 1.0


def test_faces_much_smaller_than_the_largest_are_background() -> None:
    crowd = (FaceBox(500, 100, 200, 200), FaceBox(100, 100, 60, 60), FaceBox(900, 100, 90, 90))
    assert judged([good(i, faces=crowd) for i in range(16)]) == []
    crowd += (FaceBox(1000, 300, 150, 150),)
    (finding,) = judged([good(i, faces=crowd) for i in range(16)])
    assert finding.rule == "face.count"
    assert finding.measured == 2
    assert "200 px at the centre" in finding.message


def test_pose_and_mouth_need_landmarks() -> None:
    # Haar-era analyses (no landmarks, no yaw) are not judged on pose or mouth
    plain = [good(i, yaw=None, mouth_detail=None) for i in range(16)]
    assert judged(plain) == []


@pytest.mark.parametrize(
    ("turn", "turned"), [(0.0, False), (0.3, False), (0.8, True), (-1.5, True)]
)
def test_yaw_from_the_nose_between_the_eyes_and_the_ears(turn: float, turned: bool) -> None:
    from preflight.vision.landmarks import yaw_degrees

    points = _points(500, 200, 140, turn)
    yaw = yaw_degrees(points)
    assert yaw is not None
    assert (abs(yaw) > 45) is turned
    assert (yaw > 0) is (turn > 0) or turn == 0
    # the eyes alone (no ears) give the same side and verdict
    eyes_only = yaw_degrees(points[:3])
    assert eyes_only is not None
    assert (abs(eyes_only) > 45) is turned


def test_yaw_of_a_profile_reads_the_ears() -> None:
    from preflight.vision.landmarks import yaw_degrees

    # the keypoints BlazeFace gives on scikit-image's cameraman in profile (display px): the
    # nose tip lies beyond the eyes and past the near ear
    cameraman = ((592, 262), (622, 262), (629, 308), (608, 330), (511, 245), (596, 256))
    yaw = yaw_degrees(cameraman)
    assert yaw is not None
    assert 60 < yaw <= 90


def test_mouth_geometry() -> None:
    from preflight.vision.landmarks import mouth_problem

    box = (500.0, 200.0, 140.0, 140.0)
    frontal = _points(*box[:3])
    ears = frontal[4:]
    assert mouth_problem(frontal, box, 1280, 720) is None
    low = (*frontal[:3], (570.0, 400.0), *ears)  # mouth well below the chin
    assert mouth_problem(low, box, 1280, 720) == "outside the face"
    above = (*frontal[:3], (570.0, 240.0), *ears)  # "mouth" above the eyes
    assert mouth_problem(above, box, 1280, 720) == "not below the eyes"
    assert mouth_problem(frontal, box, 1280, 300) == "cut off by the frame's edge"
    # the mouth centre inside the frame, but a corner past its left edge: cut off too
    assert mouth_problem(frontal, box, 1280, 720) is None
    edge = tuple((px - 560.0, py) for px, py in frontal)
    edged_box = (box[0] - 560.0, *box[1:])
    assert edge[3][0] > 0
    assert mouth_problem(edge, edged_box, 1280, 720) == "cut off by the frame's edge"
    assert mouth_problem(frontal[:3], box, 1280, 720) is None


def test_a_face_leaving_the_frame_is_missing_from_when_it_is_gone(face_job: FaceJob) -> None:
    # drifting right, the face is cut by the frame's edge from about 2 s and gone from 2.5 s
    job = face_job("exits")
    interval = job.analysis["face"].interval
    found = {f.rule: f for f in face_findings(job)}
    present = found.pop("face.present")
    ((start, end),) = present.ranges
    assert start == pytest.approx(2.5, abs=interval)
    assert end == pytest.approx(4.0, abs=0.05)
    # while half out of frame, the clipped box may also read as a jump or a cut-off mouth
    assert set(found) <= {"face.stability", "face.mouth", "face.size"}
    for finding in found.values():
        assert all(2.0 - interval <= a and b <= 2.75 + interval for a, b in finding.ranges)
