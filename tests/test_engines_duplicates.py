"""Inputs with the same bytes in one engine batch: one encode, and an output under every name."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.engines import Engine, fix_batch
from preflight.engines.items import DONE_DIR, STAGING_DIR, copy_output
from preflight.fixing import FixOptions

Media = Callable[[str], Path]
NO_FACE = FixOptions(face=False)  # generated test patterns have no face


def _copies(media: Media, folder: Path, names: list[str]) -> list[str]:
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(media("mkv"), folder / name)
    return [str(folder / name) for name in names]


def _visible(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("engine", [Engine("serial"), Engine("local", workers=2)])
@pytest.mark.parametrize("count", [2, 3])
def test_same_bytes_are_encoded_once_and_written_under_every_name(
    media: Media, tmp_path: Path, engine: Engine, count: int
) -> None:
    names = ["a.mkv", "b.mkv", "c.mkv"][:count]
    sources = _copies(media, tmp_path / "in", names)
    out = tmp_path / "out"
    got = fix_batch(sources, out_dir=str(out), options=NO_FACE, engine=engine)
    assert [r.status for r in got] == ["fixed"] * count
    assert [r.output for r in got] == [str(out / n.replace(".mkv", ".mp4")) for n in names]
    assert sum(r.encodes for r in got) == 1
    assert got[0].encodes == 1
    for r in got[1:]:
        assert r.message == f"same content as {sources[0]}: copied its output"
        assert r.plan is not None
        assert (r.plan.source, r.plan.target) == (r.source, r.output)
        assert os.path.samefile(r.output or "", got[0].output or "")  # a hard link: same disk
    assert _visible(out) == [n.replace(".mkv", ".mp4") for n in names]
    assert not (out / STAGING_DIR).exists()
    assert len(list((out / DONE_DIR).iterdir())) == 1  # one content, one marker


def test_the_same_path_twice_is_one_encode_and_one_output(media: Media, tmp_path: Path) -> None:
    (source,) = _copies(media, tmp_path / "in", ["a.mkv"])
    out = tmp_path / "out"
    got = fix_batch([source, source], out_dir=str(out), options=NO_FACE, engine=Engine("serial"))
    assert [r.output for r in got] == [str(out / "a.mp4")] * 2
    assert sum(r.encodes for r in got) == 1
    assert got[1].message.startswith("listed twice: ")
    assert _visible(out) == ["a.mp4"]


def test_a_rerun_resumes_and_gives_every_input_its_own_output(media: Media, tmp_path: Path) -> None:
    a, b, c = _copies(media, tmp_path / "in", ["a.mkv", "b.mkv", "c.mkv"])
    out = tmp_path / "out"
    first = fix_batch([a], out_dir=str(out), options=NO_FACE, engine=Engine("serial"))
    assert first[0].encodes == 1
    (out / "a.mp4").unlink()  # gone: the earlier output of that content is redone, once
    (tmp_path / "in" / "a.mkv").unlink()
    again = fix_batch([b, c], out_dir=str(out), options=NO_FACE, engine=Engine("serial"))
    assert sum(r.encodes for r in again) == 1
    assert _visible(out) == ["b.mp4", "c.mp4"]
    bytes_b = (out / "b.mp4").read_bytes()

    (tmp_path / "in" / "b.mkv").rename(tmp_path / "in" / "d.mkv")  # same bytes, a new name
    d = str(tmp_path / "in" / "d.mkv")
    rerun = fix_batch([c, d], out_dir=str(out), options=NO_FACE, engine=Engine("serial"))
    assert sum(r.encodes for r in rerun) == 0  # nothing encoded again
    assert [r.status for r in rerun] == ["fixed", "fixed"]
    assert "done by an earlier run" in rerun[0].message
    assert rerun[0].output == str(out / "c.mp4")
    assert rerun[1].output == str(out / "d.mp4")
    assert (out / "d.mp4").read_bytes() == bytes_b
    assert _visible(out) == ["b.mp4", "c.mp4", "d.mp4"]

    alone = fix_batch(
        [str(tmp_path / "in" / "d.mkv")], out_dir=str(out), options=NO_FACE, engine=Engine("serial")
    )  # the marker names b.mkv's output; d's own output already is that file
    assert alone[0].output == str(out / "d.mp4")
    assert alone[0].encodes == 0


def test_a_failed_input_fails_its_copies_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "a.mp4"
    bad.write_bytes(b"not a video" * 100)
    shutil.copy(bad, tmp_path / "b.mp4")
    got = fix_batch(
        [str(bad), str(tmp_path / "b.mp4")],
        out_dir=str(tmp_path / "out"),
        options=NO_FACE,
        engine=Engine("serial"),
    )
    assert [r.status for r in got] == ["unfixable", "unfixable"]
    assert got[1].message.startswith(f"same content as {bad}: ")
    assert got[1].output is None
    assert _visible(tmp_path / "out") == []


def test_copy_output_falls_back_to_a_byte_copy_across_file_systems(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a second file system for a hard link to fail")
    source = tmp_path / "a.mp4"
    source.write_bytes(os.urandom(4096))
    target = shm / f"preflight-test-{os.getpid()}.mp4"
    try:
        copy_output(str(source), str(target))
        assert target.read_bytes() == source.read_bytes()
        assert not os.path.samefile(source, target)
        assert not [p for p in shm.iterdir() if p.name.endswith(".part")]
    finally:
        target.unlink(missing_ok=True)


def test_cli_fix_engine_local_writes_each_copy_under_its_own_name(
    media: Media, tmp_path: Path
) -> None:
    sources = _copies(media, tmp_path / "in", ["a.mkv", "b.mkv", "c.mkv"])
    out = tmp_path / "out"
    args = ["fix", *sources, "--out-dir", str(out), "--no-face", "--engine", "local",
            "--workers", "2", "-f", "json"]  # fmt: skip
    got = CliRunner().invoke(main, args)
    assert got.exit_code == 0, got.output
    body = json.loads(got.output)
    assert body["summary"] == {"fixed": 3, "total": 3}
    results = body["results"]
    assert [r["output"] for r in results] == [str(out / f"{n}.mp4") for n in "abc"]
    assert [r["encodes"] for r in results] == [1, 0, 0]
    assert results[2]["message"] == f"same content as {sources[0]}: copied its output"
    assert _visible(out) == ["a.mp4", "b.mp4", "c.mp4"]


def _put(bucket: str, key: str, path: Path) -> str:
    import boto3

    boto3.client("s3").upload_file(str(path), bucket, key)
    return f"s3://{bucket}/{key}"


def test_s3_copies_are_server_side_copies_of_one_encode(s3_bucket: str, media: Media) -> None:
    import boto3

    sources = [_put(s3_bucket, f"in/{n}.mkv", media("mkv")) for n in "abc"]
    out = f"s3://{s3_bucket}/out"
    got = fix_batch(sources, out_dir=out, options=NO_FACE, engine=Engine("serial"))
    assert [r.status for r in got] == ["fixed"] * 3, [r.message for r in got]
    assert [r.output for r in got] == [f"{out}/{n}.mp4" for n in "abc"]
    assert [r.encodes for r in got] == [1, 0, 0]
    assert got[1].message == f"same content as {sources[0]}: copied its output"
    client = boto3.client("s3")
    listed = client.list_objects_v2(Bucket=s3_bucket, Prefix="out/")["Contents"]
    outputs = {o["Key"]: (o["ETag"], o["Size"]) for o in listed if "/." not in o["Key"]}
    assert sorted(outputs) == ["out/a.mp4", "out/b.mp4", "out/c.mp4"]
    assert len(set(outputs.values())) == 1  # the same bytes

    client.delete_object(Bucket=s3_bucket, Key="out/b.mp4")
    again = fix_batch(sources[1:], out_dir=out, options=NO_FACE, engine=Engine("serial"))
    assert [r.encodes for r in again] == [0, 0]
    assert "done by an earlier run" in again[0].message
    assert [r.output for r in again] == [f"{out}/b.mp4", f"{out}/c.mp4"]
    head = client.head_object(Bucket=s3_bucket, Key="out/b.mp4")
    assert (head["ETag"], head["ContentLength"]) == outputs["out/a.mp4"]
