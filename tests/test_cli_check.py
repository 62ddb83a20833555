"""`preflight check` end to end on generated media: exit codes, bad inputs, formats, jobs files."""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result

import preflight
from preflight.cli import main

Media = Callable[[str], Path]
SCHEMA = json.loads(
    importlib.resources.files("preflight.report").joinpath("report.schema.json").read_text()
)
TEXT = ["--text", "你好，欢迎", "--voice-id", "genshin_klee2", "--voice-language", "zh"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFLIGHT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.chdir(tmp_path)


def run(*args: str | os.PathLike[str]) -> Result:
    # testsrc2 clips show no person: face checks have their own tests (test_face_rules.py)
    return CliRunner().invoke(main, ["check", "--no-face", *map(str, args)], catch_exceptions=False)


def as_json(*args: str | os.PathLike[str]) -> tuple[int, dict[str, object]]:
    """Run with --format json; every report must match the published schema."""
    result = run(*args, "--format", "json")
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    return result.exit_code, doc


def findings(doc: dict[str, object], index: int = 0) -> list[tuple[str, str]]:
    results = doc["results"]
    assert isinstance(results, list)
    return [(f["rule"], f["severity"]) for f in results[index]["findings"]]


def copy(src: Path, dest: Path) -> Path:
    shutil.copyfile(src, dest)
    return dest


def test_compliant_clip_passes_with_text(media: Media) -> None:
    result = run(media("ok"), *TEXT)
    assert result.exit_code == 0, result.output
    assert "PASS" in result.stdout
    assert "\x1b[" not in result.stdout  # not a TTY: no colour


def test_compliant_clip_passes_with_audio(media: Media) -> None:
    code, doc = as_json(media("ok"), "--audio", media("m4a"))
    assert code == 0, doc
    assert doc["summary"]["passed"] == 1  # type: ignore[index]
    facts = doc["results"][0]["facts"]  # type: ignore[index]
    assert set(facts) == {"video", "audio"}
    assert facts["video"]["container"] == "mp4"


def test_error_fails_and_warning_fails_only_when_strict(media: Media, tmp_path: Path) -> None:
    code, doc = as_json(media("long"), *TEXT)
    assert code == 1
    assert ("video.duration", "error") in findings(doc)
    # a 3 s clip with 4 s audio: only the length-mismatch warning
    code, doc = as_json(media("noaudio"), "--audio", media("m4a"))
    assert findings(doc) == [("job.av_duration", "warning")]
    assert code == 0
    code, doc = as_json(media("noaudio"), "--audio", media("m4a"), "--strict")
    assert code == 1
    assert doc["results"][0]["ok"] is False  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "no-such-profile"], "unknown profile 'no-such-profile'"),
        (["--jobs", "missing.jsonl"], "jobs file not found"),
        (["--voice-speed", "fast"], "'fast' is not a valid float"),
        (["--format", "yaml"], "'yaml' is not one of"),
        (["--config", "nope.toml"], "config file not found"),
    ],
)
def test_usage_and_config_errors_exit_2(media: Media, args: list[str], message: str) -> None:
    result = run(media("ok"), *TEXT, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_nothing_to_check_is_a_usage_error() -> None:
    result = run()
    assert result.exit_code == 2
    assert "nothing to check" in result.output


def test_unknown_config_key_exits_2(media: Media, tmp_path: Path) -> None:
    (tmp_path / "preflight.toml").write_text("colour = true\n", encoding="utf-8")
    result = run(media("ok"), *TEXT)
    assert result.exit_code == 2
    assert "unknown key 'colour'" in result.output
    assert "preflight.toml" in result.output


def test_config_sets_profile_and_severity(media: Media, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.preflight]\nprofile = "kling-advanced-lipsync"\n'
        '[tool.preflight.rules."job.av_duration"]\nseverity = "error"\n',
        encoding="utf-8",
    )
    code, doc = as_json(media("noaudio"), "--audio", media("m4a"))
    assert doc["profile"] == "kling-advanced-lipsync"
    assert findings(doc) == [("job.av_duration", "error")]
    assert code == 1


def test_bad_inputs_are_findings_and_never_stop_the_rest(media: Media, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "notes.mp4").write_text("this is not a video\n", encoding="utf-8")
    (bad / "zero.mp4").write_bytes(b"")
    data = media("ok").read_bytes()
    (bad / "cut.mp4").write_bytes(data[: len(data) // 3])
    copy(media("m4a"), bad / "voice only.mp4")
    empty_dir = tmp_path / "no media here"
    empty_dir.mkdir()
    (empty_dir / "readme.txt").write_text("nothing", encoding="utf-8")
    good = copy(media("ok"), tmp_path / "good.mp4")
    code, doc = as_json(
        bad / "notes.mp4",
        bad / "zero.mp4",
        bad / "cut.mp4",
        bad / "voice only.mp4",
        tmp_path / "missing.mp4",
        empty_dir,
        good,
        *TEXT,
    )
    assert code == 1
    results = doc["results"]
    assert isinstance(results, list)
    verdicts = {Path(r["path"]).name: r for r in results}
    assert verdicts["good.mp4"]["ok"] is True
    expected = {
        "notes.mp4": ("input.readable", "not a media file"),
        "zero.mp4": ("input.readable", "empty"),
        "cut.mp4": ("input.readable", "truncated"),
        "voice only.mp4": ("video.stream", "no video stream"),
        "missing.mp4": ("input.readable", "no such file"),
        "no media here": ("input.readable", "has no media files"),
    }
    for name, (rule, text) in expected.items():
        got = verdicts[name]
        assert got["ok"] is False, name
        assert got["findings"][0]["rule"] == rule, (name, got["findings"])
        assert text in got["findings"][0]["message"], (name, got["findings"][0]["message"])
        assert got["findings"][0]["fixable"] is False


def test_permission_denied_is_a_finding(media: Media, tmp_path: Path) -> None:
    locked = copy(media("ok"), tmp_path / "locked.mp4")
    locked.chmod(0)
    ok = copy(media("ok"), tmp_path / "fine.mp4")
    # root reads anything: drop the capabilities that bypass file modes, then exec the CLI
    launcher = (
        "import ctypes, os, sys\n"
        "if os.geteuid() == 0:\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH\n"
        "        assert libc.prctl(24, cap, 0, 0, 0) == 0, ctypes.get_errno()  # PR_CAPBSET_DROP\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'preflight', *sys.argv[1:]])\n"
    )
    args = [*TEXT, "-f", "json"]
    done = subprocess.run(
        [sys.executable, "-c", launcher, "check", "--no-face", "locked.mp4", "fine.mp4", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    locked_result, fine_result = doc["results"]
    assert locked_result["findings"][0]["rule"] == "input.readable"
    assert "permission denied" in locked_result["findings"][0]["message"]
    assert fine_result["ok"] is True
    assert ok.exists()


def test_odd_names(media: Media, tmp_path: Path) -> None:
    dash = copy(media("ok"), tmp_path / "-x.mp4")
    copy(media("ok"), tmp_path / "ünï cødé 名字.mp4")
    result = run(*TEXT, "--", "-x.mp4")
    assert result.exit_code == 0, result.output
    assert "-x.mp4" in result.stdout
    assert run("./-x.mp4", *TEXT).exit_code == 0
    code, doc = as_json("ünï cødé 名字.mp4", *TEXT)
    assert code == 0
    assert doc["results"][0]["path"] == "ünï cødé 名字.mp4"  # type: ignore[index]
    assert dash.exists()


def test_lying_extension_rotation_and_anamorphic_on_real_media(media: Media) -> None:
    code, doc = as_json(
        media("lying"), media("rotated"), media("anamorphic"), media("rotated_wide"), *TEXT
    )
    assert code == 1
    lying, rotated, anamorphic, rotated_wide = doc["results"]  # type: ignore[misc]
    (container,) = [f for f in lying["findings"] if f["rule"] == "video.container"]
    assert container["measured"] == "matroska"
    assert container["fixable"] is True
    assert "the name says .mp4" in container["message"]
    assert rotated["ok"] is True  # 720x1280 on screen
    assert anamorphic["ok"] is True  # 1440x1080 stored, 1920x1080 on screen
    sides = {f["rule"]: f["measured"] for f in rotated_wide["findings"]}
    assert sides == {"video.height": 1922}  # stored 1922 wide, but on screen 1080 wide


def test_directory_walk_with_include_and_exclude(media: Media, tmp_path: Path) -> None:
    root = tmp_path / "clips"
    (root / "drafts").mkdir(parents=True)
    (root / ".hidden").mkdir()
    copy(media("ok"), root / "a.mp4")
    copy(media("ok_mov"), root / "b.MOV")
    copy(media("ok"), root / "drafts" / "c.mp4")
    copy(media("ok"), root / ".hidden" / "d.mp4")
    (root / "notes.txt").write_text("x", encoding="utf-8")
    _, doc = as_json(root, *TEXT)
    names = [r["path"] for r in doc["results"]]  # type: ignore[attr-defined]
    assert names == [str(root / "a.mp4"), str(root / "b.MOV"), str(root / "drafts" / "c.mp4")]
    _, doc = as_json("clips", "--exclude", "drafts/*", *TEXT)
    assert [r["path"] for r in doc["results"]] == ["clips/a.mp4", "clips/b.MOV"]  # type: ignore[attr-defined]
    _, doc = as_json("clips", "--include", "*.mov", *TEXT)
    assert [r["path"] for r in doc["results"]] == ["clips/b.MOV"]  # type: ignore[attr-defined]


def test_jobs_file(media: Media, tmp_path: Path) -> None:
    copy(media("ok"), tmp_path / "a.mp4")
    copy(media("m4a"), tmp_path / "a.m4a")
    jobs = tmp_path / "jobs" / "jobs.jsonl"
    jobs.parent.mkdir()
    lines = [
        '{"video": "../a.mp4", "text": "Hello", "voice_id": "genshin_klee2", '
        '"voice_language": "en"}',
        "",
        "# a comment",
        '{"video": "../a.mp4", "audio": "../a.m4a", "name": "audio job"}',
        '{"video": "../a.mp4", "text": "Hi", "audio": "../a.m4a", "voice_id": "uk_man2"}',
        "{not json",
        '{"vidoe": "../a.mp4"}',
        '{"video": "../a.mp4", "text": "Hi", "voice_id": "nobody", "voice_language": "en"}',
    ]
    jobs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, doc = as_json("--jobs", jobs)
    assert code == 1
    results = doc["results"]
    assert isinstance(results, list)
    assert [r["path"] for r in results] == [
        f"{jobs}:1",
        "audio job",
        f"{jobs}:5",
        f"{jobs}:6",
        f"{jobs}:7",
        f"{jobs}:8",
    ]
    assert [r["ok"] for r in results] == [True, True, False, False, False, False]
    assert "not both" in results[2]["findings"][0]["message"]
    assert "not valid JSON" in results[3]["findings"][0]["message"]
    assert "unknown key 'vidoe'" in results[4]["findings"][0]["message"]
    assert results[5]["findings"][0]["rule"] == "text.voice_id"
    # GitHub annotations point at the jobs file and line
    out = run("--jobs", jobs, "--format", "github").stdout
    assert f"::error file={jobs},line=6,title=preflight input.readable::" in out


def test_output_file_is_written_atomically(media: Media, tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.sarif"
    target.parent.mkdir()
    result = run(media("long"), *TEXT, "--format", "sarif", "--output", target)
    assert result.exit_code == 1
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert doc["version"] == "2.1.0"
    assert os.listdir(target.parent) == ["report.sarif"]  # no temp file left behind
    assert "FAIL" in result.stderr  # the table still reaches the person at the terminal
    result = run(media("ok"), *TEXT, "--output", tmp_path / "no such dir" / "r.json")
    assert result.exit_code == 2
    assert "cannot write" in result.output


def test_junit_and_sarif_through_the_cli(media: Media) -> None:
    junit = run(media("ok"), media("long"), *TEXT, "--format", "junit").stdout
    suite = ET.fromstring(junit).find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "1"
    sarif = json.loads(run(media("long"), *TEXT, "--format", "sarif").stdout)
    assert sarif["runs"][0]["results"][0]["ruleId"] == "video.duration"


def test_github_format_is_chosen_inside_actions(
    media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    out = run(media("long"), *TEXT).stdout
    assert out.startswith("::error file=")
    assert "title=preflight video.duration::" in out


def test_colour_only_on_a_tty(media: Media, tmp_path: Path) -> None:
    import pty

    clip = copy(media("long"), tmp_path / "long.mp4")
    primary, secondary = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "preflight", "check", "--no-face", str(clip), *TEXT],
            stdout=secondary,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
            env={k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GITHUB_ACTIONS")},
        )
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(primary)
    assert done.returncode == 1
    assert b"\x1b[31m" in b"".join(chunks)


def test_library_api_without_the_cli(media: Media) -> None:
    report = preflight.check(
        [media("ok"), media("short")], profile="kling-lipsync", audio=media("m4a"), face=False
    )
    assert isinstance(report, preflight.Report)
    assert [r.ok for r in report.results] == [True, False]
    assert report.results[1].findings[0].rule == "video.duration"
    assert report.exit_code == 1
    image = preflight.check([media("jpg"), media("png_small")], profile="kling-image2video")
    assert [r.ok for r in image.results] == [True, False]
    assert {f.rule for f in image.results[1].findings} == {"image.dimensions"}


def test_ffprobe_backend_gives_the_same_verdicts(media: Media) -> None:
    clips = [media("ok"), media("lying"), media("rotated"), media("anamorphic"), media("long")]
    _, by_mediainfo = as_json(*clips, *TEXT, "--no-cache")
    _, by_ffprobe = as_json(*clips, *TEXT, "--no-cache", "--backend", "ffprobe")
    assert [findings(by_ffprobe, i) for i in range(len(clips))] == [
        findings(by_mediainfo, i) for i in range(len(clips))
    ]


def test_missing_ffprobe_is_a_usage_error(media: Media, monkeypatch: pytest.MonkeyPatch) -> None:
    from preflight.toolchain import binaries

    monkeypatch.setenv("PREFLIGHT_FFPROBE", "/nonexistent/ffprobe")
    binaries.find_ffprobe.cache_clear()
    try:
        result = run(media("ok"), *TEXT, "--backend", "ffprobe", "--no-cache")
    finally:
        binaries.find_ffprobe.cache_clear()
    assert result.exit_code == 2, result.output
    assert "ffprobe not found" in result.output


def test_name_that_is_not_utf8(media: Media, tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    folder.mkdir()
    raw = os.path.join(os.fsencode(folder), b"caf\xe9 take.mp4")  # Latin-1 bytes, not UTF-8
    with open(raw, "wb") as fh:
        fh.write(media("long").read_bytes())
    for fmt, shown in [
        ("text", "caf? take.mp4"),
        ("json", "caf? take.mp4"),
        ("junit", "caf? take.mp4"),
        ("sarif", "raw/caf%E9%20take.mp4"),
        ("github", "caf? take.mp4"),
    ]:
        result = run("raw", *TEXT, "--format", fmt, "--no-cache")
        assert result.exit_code == 1, (fmt, result.output)
        assert shown in result.stdout, fmt
        assert "video.duration" in result.stdout, fmt


def test_urls_are_checked_and_a_dead_url_is_a_finding(media: Media, tmp_path: Path) -> None:
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    served = tmp_path / "www"
    served.mkdir()
    copy(media("ok"), served / "ok.mp4")
    copy(media("long"), served / "long.mp4")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(served))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            code, doc = as_json(f"{base}/ok.mp4", f"{base}/long.mp4", f"{base}/gone.mp4", *TEXT)
        finally:
            server.shutdown()
            thread.join()
    assert code == 1
    ok, long, gone = doc["results"]  # type: ignore[misc]
    assert ok["ok"] is True
    assert ok["path"] == f"{base}/ok.mp4"
    assert [f["rule"] for f in long["findings"]] == ["video.duration"]
    assert gone["findings"][0]["rule"] == "input.readable"
    assert "404" in gone["findings"][0]["message"]


def test_library_rejects_unknown_request_fields(media: Media) -> None:
    from preflight.model.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown request field"):
        preflight.check([media("ok")], voice="x")
    with pytest.raises(ConfigError, match="name"):
        preflight.check([media("ok")], name="x")


def test_media_only_check_needs_no_text_or_audio(media: Media) -> None:
    code, doc = as_json(media("ok"), media("long"))
    assert code == 1
    assert findings(doc, 0) == []
    assert findings(doc, 1) == [("video.duration", "error")]
    # as soon as one request field is given, the whole job is judged
    code, doc = as_json(media("ok"), "--voice-id", "genshin_klee2")
    assert code == 1
    assert findings(doc) == [("job.inputs", "error")]
    assert "a voice id without text" in doc["results"][0]["findings"][0]["message"]  # type: ignore[index]


def test_jobs_from_stdin(media: Media, tmp_path: Path) -> None:
    copy(media("ok"), tmp_path / "a.mp4")
    line = '{"video": "a.mp4", "text": "Hi", "voice_id": "uk_man2", "voice_language": "en"}\n'
    args = ["check", "--no-face", "--jobs", "-", "-f", "json"]
    result = CliRunner().invoke(main, args, input=line)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"][0]["path"] == "<stdin>:1"


def test_batch_report_is_the_same_fast_or_not_and_cold_or_warm(
    media: Media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The MP4/MOV fast path and the probe cache are speed only: the whole JSON report of a
    batch is byte for byte the one MediaInfo gives with no cache."""
    batch = tmp_path / "batch"
    batch.mkdir()
    names = ["ok", "ok_mov", "short", "rotated", "anamorphic", "long", "noaudio", "ten_bit",
             "vfr", "odd", "mkv", "mov_pcm"]  # fmt: skip
    for i, name in enumerate(names * 2):
        src = media(name)
        copy(src, batch / f"{i:02d}_{src.name}")

    def report(*extra: str) -> str:
        out = tmp_path / "report.json"
        result = run(batch, "--format", "json", "--output", out, "-q", *extra)
        assert result.exit_code in (0, 1), result.output
        return out.read_text(encoding="utf-8")

    fast = report("--no-cache")
    cold = report()  # fills the cache
    warm = report()  # answered from it
    monkeypatch.setenv("PREFLIGHT_PROBE_FAST", "0")
    slow = report("--no-cache")
    assert fast == slow
    assert cold == fast
    assert warm == fast
    doc = json.loads(fast)
    jsonschema.validate(doc, SCHEMA)
    assert len(doc["results"]) == 2 * len(names)
    assert all(r["facts"] for r in doc["results"])
    assert len(list((tmp_path / "cache").glob("probe-v*.sqlite3"))) == 1
