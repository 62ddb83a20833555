"""preflight.engines without a cluster: pickling, items as data, the local engines, S3 (moto)."""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from preflight.checking.check import Planned, check
from preflight.checking.config import Config, RuleOverride, load_config
from preflight.cli import main
from preflight.engines import (
    CheckItem,
    Engine,
    FixItem,
    check_batch,
    check_item,
    fix_batch,
    fix_item,
    resolve_engine,
)
from preflight.engines.batch import check_chunk_size
from preflight.engines.items import DONE_DIR, STAGING_DIR, settings_key
from preflight.fixing import FixOptions
from preflight.model.errors import ConfigError
from preflight.model.findings import Severity
from preflight.report import render
from preflight.rules.profiles import list_profiles, load_profile

Media = Callable[[str], Path]


@pytest.mark.parametrize("name", list_profiles())
def test_every_shipped_profile_pickles_to_an_equal_read_only_profile(name: str) -> None:
    profile = load_profile(name)
    back = pickle.loads(pickle.dumps(profile))
    assert back == profile
    assert type(back.rules) is type(profile.rules)
    for rule_id, setting in profile.rules.items():
        assert type(back.rules[rule_id].params) is type(setting.params)
    with pytest.raises(TypeError):
        back.rules["video.duration"] = None  # type: ignore[index]


NO_FACE = FixOptions(face=False)  # generated test patterns have no face


def test_a_config_pickles_with_its_rule_overrides(tmp_path: Path) -> None:
    file = tmp_path / "preflight.toml"
    file.write_text('profile = "kling-lipsync"\n[rules."video.codec"]\nseverity = "warning"\n')
    config = load_config(file)
    back = pickle.loads(pickle.dumps(config))
    assert back == config
    assert back.rules["video.codec"] == RuleOverride(severity=Severity.WARNING)
    assert pickle.loads(pickle.dumps(Config())) == Config()


@pytest.mark.parametrize(
    ("engine", "scheduler", "env", "expected"),
    [
        (None, None, None, Engine("local")),
        ("serial", None, None, Engine("serial")),
        (None, "tcp://10.0.0.5:8786", None, Engine("dask", "tcp://10.0.0.5:8786")),
        (None, None, "tcp://h:1", Engine("dask", "tcp://h:1")),
        ("dask", None, None, Engine("dask", None)),
        ("local", None, "tcp://h:1", Engine("local")),  # an explicit engine beats the env
    ],
)
def test_resolve_engine(
    engine: str | None,
    scheduler: str | None,
    env: str | None,
    expected: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if env is None:
        monkeypatch.delenv("PREFLIGHT_SCHEDULER", raising=False)
    else:
        monkeypatch.setenv("PREFLIGHT_SCHEDULER", env)
    assert resolve_engine(engine, scheduler) == expected


def test_a_scheduler_with_another_engine_is_a_usage_error() -> None:
    with pytest.raises(ConfigError, match="--scheduler is for --engine dask"):
        resolve_engine("local", "tcp://h:1")


@pytest.mark.parametrize(
    ("items", "engine", "expected"),
    [(2000, Engine("local", workers=2), 64), (100, Engine("local", workers=2), 7),
     (3, Engine("dask", workers=4), 1), (50, Engine("serial"), 50),
     (2000, Engine("dask", workers=2), 250), (100, Engine("dask", workers=2), 13),
     (20000, Engine("dask", workers=2), 512)],
)  # fmt: skip
def test_check_chunks_keep_a_few_tasks_per_worker_and_a_cap(
    items: int, engine: Engine, expected: int
) -> None:
    assert check_chunk_size(items, engine) == expected


def _tagged(chunk: list[int], tag: str, scale: int) -> list[str]:
    return [f"{tag}{n * scale}" for n in chunk]


def test_a_dask_task_runs_from_and_to_bytes_with_each_batchs_own_arguments() -> None:
    from preflight.engines import pool

    def run(chunk: list[int], args: tuple[str, int]) -> list[str]:
        out = pool._remote(pool._pack(chunk), fn=_tagged, shared=pool._pack(args))
        assert isinstance(out, bytes)  # one frame back, not a list Dask walks element by element
        got: list[str] = pickle.loads(out)
        return got

    for _ in range(pool._SHARED_KEPT + 2):  # past the worker's cache of unpickled arguments
        assert run([1, 2], ("a", 10)) == ["a10", "a20"]
        assert run([3], ("b", 2)) == ["b6"]  # another batch's arguments, never the cached ones


def test_check_item_never_raises_and_travels(media: Media, tmp_path: Path) -> None:
    profile = load_profile("kling-lipsync")
    items = [
        CheckItem(0, Planned(str(media("short")), {"video": str(media("short"))})),
        CheckItem(1, Planned(str(tmp_path / "gone.mp4"), {"video": str(tmp_path / "gone.mp4")})),
        # a field Job does not have: a bug in the item, which must come back as data
        CheckItem(2, Planned("odd", {}, {"no_such_field": 1})),
    ]
    got = [pickle.loads(pickle.dumps(check_item(i, profile, None))) for i in items]
    assert [g.index for g in got] == [0, 1, 2]
    assert "video.duration" in {f.rule for f in got[0].result.findings}
    assert not got[1].result.ok
    assert "no such file" in got[1].result.findings[0].message
    assert got[2].error.startswith("TypeError")
    assert got[2].result.findings[0].rule == "input.readable"


@pytest.mark.parametrize("engine", ["serial", "local"])
def test_check_on_an_engine_gives_the_same_report(
    engine: str, media: Media, tmp_path: Path
) -> None:
    inputs = [str(media(n)) for n in ("ok", "short", "mkv", "small")] + [str(tmp_path / "x.mp4")]
    expected = check(inputs, cache=False, face=False)
    got = check_batch(inputs, engine=Engine(engine, workers=2), cache=False, face=False)
    assert render(got, "json") == render(expected, "json")
    assert got.exit_code == expected.exit_code == 1


def test_cli_check_engine_serial_matches_the_default(media: Media) -> None:
    runner = CliRunner()
    args = ["check", str(media("short")), str(media("ok")), "--no-face", "-f", "json"]
    plain = runner.invoke(main, args)
    on_engine = runner.invoke(main, [*args, "--engine", "serial"])
    assert on_engine.exit_code == plain.exit_code == 1
    assert json.loads(on_engine.output) == json.loads(plain.output)


def test_fix_resumes_by_content_not_by_name(media: Media, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(media("mkv"), src / "a.mkv")
    out = tmp_path / "out"
    first = fix_batch(
        [str(src / "a.mkv")], out_dir=str(out), options=NO_FACE, engine=Engine("serial")
    )
    assert [r.status for r in first] == ["fixed"]
    assert (out / "a.mp4").is_file()
    assert not (out / STAGING_DIR).exists()
    assert len(list((out / DONE_DIR).iterdir())) == 1

    (src / "a.mkv").rename(src / "b.mkv")  # same bytes, new name: already done
    again = fix_batch(
        [str(src / "b.mkv")], out_dir=str(out), options=NO_FACE, engine=Engine("serial")
    )
    assert again[0].status == "fixed"
    assert "done by an earlier run" in again[0].message
    assert again[0].encodes == 0
    assert again[0].output == str(out / "b.mp4")  # its own name: a copy of a's output
    assert (out / "b.mp4").read_bytes() == (out / "a.mp4").read_bytes()

    other = FixOptions(crf=30, face=False)  # other settings: done again
    redo = fix_batch([str(src / "b.mkv")], out_dir=str(out), options=other, engine=Engine("serial"))
    assert "earlier run" not in redo[0].message
    assert (out / "b.mp4").is_file()


def test_fix_item_leaves_no_half_file_when_the_output_is_gone(media: Media, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    profile = load_profile("kling-lipsync")
    options = NO_FACE
    key = settings_key(profile, options, None)
    item = FixItem(0, str(media("mkv")), str(out), resume=True, settings=key)
    first = fix_item(item, profile, options, None)
    assert first.result.status == "fixed"
    (out / "h264.mp4").unlink()  # the marker stays, the output does not: redo it
    second = fix_item(item, profile, options, None)
    assert not second.resumed
    assert (out / "h264.mp4").is_file()
    assert sorted(p.name for p in out.iterdir()) == [DONE_DIR, STAGING_DIR, "h264.mp4"]
    assert list((out / STAGING_DIR).iterdir()) == []  # each attempt removed its own folder


def test_fix_refuses_to_overwrite_its_input(media: Media, tmp_path: Path) -> None:
    shutil.copy(media("short"), tmp_path / "a.mp4")
    before = (tmp_path / "a.mp4").read_bytes()
    got = fix_batch(
        [str(tmp_path / "a.mp4")], out_dir=str(tmp_path), options=NO_FACE, engine=Engine("serial")
    )
    assert got[0].status == "unfixable"
    assert "overwrite the input" in got[0].message
    assert (tmp_path / "a.mp4").read_bytes() == before


def _put(bucket: str, key: str, path: Path) -> str:
    import boto3

    boto3.client("s3").upload_file(str(path), bucket, key)
    return f"s3://{bucket}/{key}"


def test_s3_inputs_are_checked_through_presigned_urls_and_named_by_uri(
    s3_bucket: str, media: Media
) -> None:
    ok = _put(s3_bucket, "in/ok.mp4", media("ok"))
    short = _put(s3_bucket, "in/short.mp4", media("short"))
    missing = f"s3://{s3_bucket}/in/missing.mp4"
    report = check_batch(
        [f"s3://{s3_bucket}/in/", missing], engine=Engine("serial"), cache=False, face=False
    )
    assert [r.name for r in report.results] == [ok, short, missing]
    assert report.results[0].ok
    assert report.results[0].facts["video"].source == ok
    assert "video.duration" in {f.rule for f in report.results[1].findings}
    assert "no such object" in report.results[2].findings[0].message
    text = render(report, "json")
    assert "X-Amz-" not in text
    assert "testing" not in text  # the access key id rides in a presigned URL: never shown


def test_s3_fix_uploads_whole_outputs_and_resumes(
    s3_bucket: str, media: Media, tmp_path: Path
) -> None:
    import boto3

    source = _put(s3_bucket, "in/clip.mkv", media("mkv"))
    out = f"s3://{s3_bucket}/fixed"
    first = fix_batch([source], out_dir=out, options=NO_FACE, engine=Engine("serial"))
    assert first[0].status == "fixed", first[0].message
    assert first[0].output == f"{out}/clip.mp4"
    client = boto3.client("s3")
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert keys[:2] == ["fixed/.preflight-done/" + keys[0].split("/")[-1], "fixed/clip.mp4"]
    fetched = tmp_path / "clip.mp4"
    client.download_file(s3_bucket, "fixed/clip.mp4", str(fetched))
    assert check([str(fetched)], face=False, cache=False).ok
    again = fix_batch([source], out_dir=out, options=NO_FACE, engine=Engine("serial"))
    assert "done by an earlier run" in again[0].message


def test_s3_inputs_need_an_out_dir(s3_bucket: str) -> None:
    with pytest.raises(ConfigError, match="need --out-dir"):
        fix_batch([f"s3://{s3_bucket}/a.mp4"], engine=Engine("serial"))


def test_cli_fix_on_an_engine_resumes_a_rerun(media: Media, tmp_path: Path) -> None:
    shutil.copy(media("mkv"), tmp_path / "a.mkv")
    out = tmp_path / "out"
    args = [
        "fix",
        str(tmp_path / "a.mkv"),
        "--out-dir",
        str(out),
        "--engine",
        "serial",
        "--no-face",
    ]
    first = CliRunner().invoke(main, [*args, "-f", "json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["summary"] == {"fixed": 1, "total": 1}
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0
    assert "done by an earlier run" in again.output
    redo = CliRunner().invoke(main, [*args, "--no-resume"])
    assert "earlier run" not in redo.output


def test_cli_fix_engine_refuses_what_only_a_local_fix_does(media: Media) -> None:
    got = CliRunner().invoke(main, ["fix", str(media("mkv")), "--engine", "serial", "--dry-run"])
    assert got.exit_code == 2
    assert "--dry-run" in got.output


def test_cli_check_and_fix_read_and_write_s3(s3_bucket: str, media: Media) -> None:
    _put(s3_bucket, "in/clip.mkv", media("mkv"))
    runner = CliRunner()
    checked = runner.invoke(
        main, ["check", f"s3://{s3_bucket}/in/clip.mkv", "--no-face", "-f", "json",
               "--engine", "serial"],
    )  # fmt: skip
    assert checked.exit_code == 1, checked.output
    result = json.loads(checked.output)["results"][0]
    assert result["path"] == f"s3://{s3_bucket}/in/clip.mkv"
    assert "video.container" in {f["rule"] for f in result["findings"]}
    fixed = runner.invoke(
        main, ["fix", f"s3://{s3_bucket}/in/clip.mkv", "--out-dir", f"s3://{s3_bucket}/out",
               "--no-face", "--engine", "serial"],
    )  # fmt: skip
    assert fixed.exit_code == 0, fixed.output
    assert f"s3://{s3_bucket}/out/clip.mp4" in fixed.output


def test_an_s3_prefix_is_walked_like_a_folder_and_probed_by_range_reads(
    s3_bucket: str, media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    from preflight.probing import _remote

    big = _put(s3_bucket, "in/sub/long.mp4", media("long"))  # 12 MB: a download would show
    ok = _put(s3_bucket, "in/ok.mp4", media("ok"))
    for key, source in [
        ("in/.preflight-done/x.json", media("mp3")),
        ("in/notes.txt", media("mp3")),
        ("in/ok.fixed.mp4", media("ok")),
        ("other/ok.mp4", media("ok")),
    ]:
        _put(s3_bucket, key, source)  # fmt: skip
    fetched: list[int] = []
    downloads: list[str] = []
    real_range, real_download = _remote.RangeReader._range, _remote._probe_download

    def counted_range(self: _remote.RangeReader, start: int, end: int) -> bytes:
        data = real_range(self, start, end)
        fetched.append(len(data))
        return data

    def counted_download(url: str, *args: object) -> object:
        downloads.append(url)
        return real_download(url, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(_remote.RangeReader, "_range", counted_range)
    monkeypatch.setattr(_remote, "_probe_download", counted_download)
    report = check_batch(
        [f"s3://{s3_bucket}/in/"], engine=Engine("serial"), cache=False, face=False
    )
    assert [r.name for r in report.results] == [ok, big]  # sorted keys; no marker, text, output
    assert report.results[1].facts["video"].duration == pytest.approx(15, abs=0.1)
    assert downloads == []
    assert 2 * 256 * 1024 + sum(fetched) < media("long").stat().st_size / 4


def test_an_s3_prefix_with_no_media_is_a_usage_error(s3_bucket: str, media: Media) -> None:
    _put(s3_bucket, "in/notes.txt", media("mp3"))
    with pytest.raises(ConfigError, match="has no media objects"):
        check_batch([f"s3://{s3_bucket}/in/"], engine=Engine("serial"), face=False)


def test_cli_fix_of_an_s3_prefix_writes_every_video_to_s3_once(
    s3_bucket: str, media: Media, tmp_path: Path
) -> None:
    import boto3

    for i, name in enumerate(("a", "b")):
        clip = tmp_path / f"{name}.mkv"
        clip.write_bytes(media("mkv").read_bytes() + bytes([i]) * 16)  # not one content: no resume
        _put(s3_bucket, f"in/{name}.mkv", clip)
    _put(s3_bucket, "in/voice.mp3", media("mp3"))  # not a video: a fix of the prefix leaves it
    args = ["fix", f"s3://{s3_bucket}/in/", "--out-dir", f"s3://{s3_bucket}/out", "--no-face",
            "--engine", "local", "--workers", "2", "-f", "json"]  # fmt: skip
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    body = json.loads(first.output)
    assert [r["output"] for r in body["results"]] == [
        f"s3://{s3_bucket}/out/a.mp4",
        f"s3://{s3_bucket}/out/b.mp4",
    ]
    listed = boto3.client("s3").list_objects_v2(Bucket=s3_bucket, Prefix="out/")["Contents"]
    assert sorted(o["Key"] for o in listed if not o["Key"].startswith("out/.")) == [
        "out/a.mp4",
        "out/b.mp4",
    ]
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert all(
        "done by an earlier run" in r["message"] for r in json.loads(again.output)["results"]
    )
