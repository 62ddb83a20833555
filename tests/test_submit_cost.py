"""`submit --dry-run`, `estimate`, `submit --max-cost` and the ledger's cost columns, through the
CLI against the loopback sandbox (real HTTP, real FFmpeg, real SQLite)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from preflight.cli import main
from preflight.client import KlingClient
from preflight.sandbox import Sandbox, SandboxConfig
from preflight.submitting.ledger import Ledger

Media = Callable[[str], Path]
TEXT = ["--text", "Hello from the tests", "--voice-id", "genshin_klee2", "--no-face"]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(submitted_seconds=0.05, processing_seconds=0.1)) as sb:
        yield sb


def run(sandbox: Sandbox, tmp_path: Path, *args: str) -> Result:
    env = {**sandbox.environment(), "PREFLIGHT_LEDGER": str(tmp_path / "ledger.sqlite3")}
    return CliRunner().invoke(main, list(args), env=env)


def priced_profile(tmp_path: Path) -> Path:
    """kling-lipsync with fal's published price, so a job has an amount to compare."""
    path = tmp_path / "priced.toml"
    path.write_text(
        'extends = "kling-lipsync"\n'
        "[pricing]\nrate = 0.014\nround_up_to = 5\n"
        'source = "fal model pages: $0.014 per second of video, rounded up to 5 s"\n'
    )
    return path


def copy(media: Media, name: str, tmp_path: Path) -> Path:
    target = tmp_path / media(name).name
    target.write_bytes(media(name).read_bytes())
    return target


def nothing_sent(sandbox: Sandbox, tmp_path: Path) -> None:
    assert sandbox.core.requests == 0  # not even an upload or a token check
    assert sandbox.tasks() == []
    assert not (tmp_path / "ledger.sqlite3").exists()  # no row, not even a ledger file


@pytest.mark.parametrize(
    ("provider", "sound"),
    [
        ("kling", TEXT),
        ("kling", ["--audio", "AUDIO", "--no-face"]),
        ("wavespeed", TEXT),
        ("fal", TEXT),
    ],
)
def test_the_dry_run_sends_nothing_and_shows_what_submit_sends(
    sandbox: Sandbox, media: Media, tmp_path: Path, provider: str, sound: list[str]
) -> None:
    url = sandbox.serve_file(media("ok"))
    audio = media("mp3")
    sound = [str(audio) if s == "AUDIO" else s for s in sound]
    args = ["submit", url, *sound, "--provider", provider, "--external-task-id", "mine-1"]
    dry = run(sandbox, tmp_path, *args, "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.output
    nothing_sent(sandbox, tmp_path)
    (plan,) = json.loads(dry.output)
    assert plan["verdict"] == "send"
    request = plan["request"]
    assert request["method"] == "POST"
    assert request["url"].startswith(sandbox.url)
    scheme = "Key" if provider == "fal" else "Bearer"
    assert request["headers"]["Authorization"] == f"{scheme} ***"
    secrets = (sandbox.wavespeed_api_key, sandbox.kling_secret_key, sandbox.kling_access_key,
               sandbox.fal_key)  # fmt: skip
    assert not any(s in dry.output for s in secrets)
    assert "eyJ" not in dry.output  # nor Kling's token (a JWT)
    assert plan["hosting"] == {"video": "by URL, as given", **(
        {"audio": "sent inline as base64 in the body"} if "--audio" in sound else {}
    )}  # fmt: skip

    # the same job for real: the sandbox receives what the dry run printed
    real = run(sandbox, tmp_path, *args, "--no-wait")
    assert real.exit_code == 0, real.output
    (task,) = sandbox.tasks()
    body: dict[str, Any] = request["json"]
    if provider == "kling":
        assert request["url"] == f"{sandbox.url}/v1/videos/lip-sync"
        sent = dict(body["input"])
        if "--audio" in sound:  # inline media is shown by size and digest
            digest = hashlib.sha256(audio.read_bytes()).hexdigest()
            size = audio.stat().st_size
            assert sent.pop("audio_file") == f"<base64: {size} bytes, sha256 {digest}>"
        assert sent == task.params
        assert body["external_task_id"] == task.external_task_id == "mine-1"
    elif provider == "fal":
        assert request["url"] == f"{sandbox.url}/fal-ai/kling-video/lipsync/text-to-video"
        assert body == task.params
    else:
        assert request["url"] == f"{sandbox.url}/api/v3/kwaivgi/kling-lipsync/text-to-video"
        assert body == task.params


def test_the_dry_run_plans_the_fix_and_the_upload_and_prices_the_fixed_length(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    video = copy(media, "long", tmp_path)  # 15 s: the fix trims it to 10 s
    before = video.read_bytes()
    profile = priced_profile(tmp_path)
    args = ["submit", str(video), *TEXT, "--provider", "kling", "--profile", str(profile)]
    dry = run(sandbox, tmp_path, *args, "--upload-to", "s3://bucket/in", "--dry-run")
    assert dry.exit_code == 0, dry.output
    nothing_sent(sandbox, tmp_path)
    assert video.read_bytes() == before
    assert not list(tmp_path.glob("*.fixed.*"))  # planned, not encoded
    out = dry.output
    assert "video.duration" in out
    assert "fix video: reencode" in out
    argv = [line for line in out.splitlines() if line.startswith("    $ ")]
    assert len(argv) == 1
    assert "ffmpeg" in argv[0]
    assert " -t 9.96" in argv[0]  # the exact FFmpeg command the fix would run
    assert "uploaded to s3://bucket/in" in out
    assert "$0.140" in out  # 10 s at $0.014/s, not 15 s
    assert "15 s trimmed to 9.96 s by the fix" in out  # the planned output, as -t says
    assert "Authorization: Bearer ***" in out
    assert "would send: yes" in out

    # without a way to host the local file, Kling's job would be blocked: exit 1, still nothing
    blocked = run(sandbox, tmp_path, *args, "--dry-run")
    assert blocked.exit_code == 1, blocked.output
    assert "blocked" in blocked.output
    assert "--upload-to" in blocked.output
    nothing_sent(sandbox, tmp_path)


def test_a_wavespeed_dry_run_plans_its_upload_without_uploading(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    video = copy(media, "ok", tmp_path)
    dry = run(sandbox, tmp_path, "submit", str(video), "--audio", str(media("m4a")),
              "--provider", "wavespeed", "--no-face", "--dry-run", "-f", "json")  # fmt: skip
    assert dry.exit_code == 0, dry.output
    nothing_sent(sandbox, tmp_path)
    (plan,) = json.loads(dry.output)
    assert "wavespeed's own upload" in plan["hosting"]["video"]
    assert plan["request"]["json"]["video"].startswith("<wavespeed upload URL")
    assert plan["estimate"]["published"] is False
    assert "no published price" not in plan["estimate"]["basis"]


def test_a_jobs_file_dry_run_lists_every_job_and_fails_on_a_rejected_one(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    good, small = sandbox.serve_file(media("ok")), str(copy(media, "small", tmp_path))
    jobs.write_text(
        json.dumps({"video": good, "text": "hi", "voice_id": "genshin_klee2"}) + "\n"
        + json.dumps({"video": small, "text": "hi", "voice_id": "genshin_klee2"}) + "\n"
    )  # fmt: skip
    dry = run(sandbox, tmp_path, "submit", "--jobs", str(jobs), "--no-face", "--no-fix",
              "--dry-run", "-f", "json")  # fmt: skip
    assert dry.exit_code == 1, dry.output
    plans = json.loads(dry.output)
    assert [p["verdict"] for p in plans] == ["send", "rejected"]
    assert "video.width" in plans[1]["reason"]
    nothing_sent(sandbox, tmp_path)


def test_max_cost_refuses_before_anything_is_recorded_or_sent(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    video = sandbox.serve_file(media("ok"))  # 4 s: counted as 5 s, $0.070
    profile = str(priced_profile(tmp_path))
    over = run(
        sandbox, tmp_path, "submit", video, *TEXT, "--profile", profile, "--max-cost", "0.05"
    )
    assert over.exit_code == 1, over.output
    assert "$0.070, above --max-cost $0.050" in over.output
    nothing_sent(sandbox, tmp_path)

    unpriced = run(sandbox, tmp_path, "submit", video, *TEXT, "--max-cost", "$5")
    assert unpriced.exit_code == 1, unpriced.output
    assert "no published price (kling-lipsync)" in unpriced.output
    nothing_sent(sandbox, tmp_path)

    bad = run(sandbox, tmp_path, "submit", video, *TEXT, "--max-cost", "cheap")
    assert bad.exit_code == 2
    assert "not an amount" in bad.output

    under = run(sandbox, tmp_path, "submit", video, *TEXT, "--profile", profile,
                "--max-cost", "0.07", "--no-wait")  # fmt: skip
    assert under.exit_code == 0, under.output
    assert len(sandbox.tasks()) == 1
    (record,) = Ledger(tmp_path / "ledger.sqlite3").jobs()
    assert record.estimate is not None
    assert record.estimate["amount"] == "0.070"


def test_max_cost_weighs_a_whole_batch(sandbox: Sandbox, media: Media, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    urls = [sandbox.serve_file(media("ok"), name=f"clip{i}.mp4") for i in range(3)]
    jobs.write_text("".join(json.dumps({"video": u, "text": f"line {i}"}) + "\n"
                            for i, u in enumerate(urls)))  # fmt: skip
    args = ["submit", "--jobs", str(jobs), "--voice-id", "genshin_klee2", "--no-face",
            "--profile", str(priced_profile(tmp_path)), "--no-wait"]  # fmt: skip
    # each job ($0.070) is under the limit, the three together ($0.210) are not
    refused = run(sandbox, tmp_path, *args, "--max-cost", "0.20")
    assert refused.exit_code == 1, refused.output
    assert "the 3 jobs would cost an estimated $0.210" in refused.output
    nothing_sent(sandbox, tmp_path)
    sent = run(sandbox, tmp_path, *args, "--max-cost", "0.21")
    assert sent.exit_code == 0, sent.output
    assert len(sandbox.tasks()) == 3


def test_estimate_takes_submits_arguments_and_totals(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    long_video = copy(media, "long", tmp_path)
    profile = str(priced_profile(tmp_path))
    one = run(sandbox, tmp_path, "estimate", str(long_video), *TEXT, "--profile", profile,
              "--upload-to", "s3://b/p")  # fmt: skip
    assert one.exit_code == 0, one.output
    assert one.output.splitlines()[0].startswith("$0.140")
    assert "total: $0.140 for 1 job" in one.output

    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        json.dumps({"video": str(long_video), "text": "a", "profile": profile}) + "\n"
        + json.dumps({"video": str(media("ok")), "text": "b", "profile": profile}) + "\n"
        + json.dumps({"video": str(media("ok")), "text": "c"}) + "\n"
    )  # fmt: skip
    many = run(sandbox, tmp_path, "estimate", "--jobs", str(jobs), "--voice-id", "genshin_klee2",
               "-f", "json")  # fmt: skip
    assert many.exit_code == 0, many.output
    report = json.loads(many.output)
    assert [j["amount"] for j in report["jobs"]] == ["0.140", "0.070", None]
    assert report["total"] == {"jobs": 3, "amounts": {"USD": "0.210"}, "unpriced": 1}
    assert report["jobs"][2]["source"].startswith("KL-EN")
    capped = run(sandbox, tmp_path, "estimate", "--jobs", str(jobs), "--voice-id",
                 "genshin_klee2", "--max-cost", "1")  # fmt: skip
    assert capped.exit_code == 1
    assert "no published price" in capped.output
    nothing_sent(sandbox, tmp_path)


def test_fals_published_price_is_estimated_from_its_own_profile(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    long_video = copy(media, "long", tmp_path)
    out = run(sandbox, tmp_path, "estimate", str(long_video), *TEXT, "--provider", "fal", "-f",
              "json")  # fmt: skip
    assert out.exit_code == 0, out.output
    (job,) = json.loads(out.output)["jobs"]
    assert job["amount"] == "0.140"  # priced on the fixed 10 s, already a multiple of 5 s
    assert job["source"].startswith("FAL:")
    nothing_sent(sandbox, tmp_path)


def test_jobs_shows_the_estimate_what_was_billed_and_totals(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    video = sandbox.serve_file(media("ok"))
    profile = str(priced_profile(tmp_path))
    out = tmp_path / "done.mp4"
    done = run(sandbox, tmp_path, "submit", video, *TEXT, "--profile", profile, "-o", str(out))
    assert done.exit_code == 0, done.output
    (task,) = sandbox.tasks()
    units = float(
        sandbox.core.kling_object(sandbox.core.store.tasks[task.id])["final_unit_deduction"]
    )
    listing = run(sandbox, tmp_path, "jobs")
    assert listing.exit_code == 0, listing.output
    assert "est $0.070" in listing.output
    assert f"billed {units:g} units" in listing.output
    assert "1 job: estimated $0.070; billed " in listing.output
    as_json = json.loads(run(sandbox, tmp_path, "jobs", "-f", "json").output)
    assert as_json[0]["estimate"]["amount"] == "0.070"
    assert as_json[0]["billed"]["amount"] == units
    assert as_json[0]["billed"]["unit"] == "units"


def test_the_library_refuses_over_max_cost_without_a_row(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    from decimal import Decimal

    from preflight.submitting import KlingProvider, Outcome, SubmitRequest, Submitter

    events: list[Any] = []
    with KlingClient(sandbox.kling_access_key, sandbox.kling_secret_key, base_url=sandbox.url) as k:
        runner = Submitter(Ledger(tmp_path / "lib.sqlite3"), {"kling": KlingProvider(k)},
                           on_event=events.append)  # fmt: skip
        request = SubmitRequest(
            sandbox.serve_file(media("ok")), text="hi", voice_id="genshin_klee2", face=False,
            profile=str(priced_profile(tmp_path)), max_cost=Decimal("0.069"),
        )  # fmt: skip
        result = runner.run(request)
    assert result.outcome is Outcome.REFUSED
    assert result.exit_code == 1
    assert "above --max-cost $0.069" in (result.reason or "")
    assert runner.ledger.jobs() == []
    assert sandbox.tasks() == []
    assert [e.state for e in events if e.step == "cost"] == ["info", "fail"]


def test_a_url_needing_a_fix_is_planned_on_the_copy_submit_would_keep(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    url = sandbox.serve_file(media("long"))
    profile = str(priced_profile(tmp_path))
    args = ["submit", url, *TEXT, "--profile", profile, "--upload-to", "s3://b/in", "--dry-run"]
    dry = run(sandbox, tmp_path, *args, "-f", "json")
    assert dry.exit_code == 0, dry.output
    (plan,) = json.loads(dry.output)
    (fix,) = plan["fixes"]
    argv = " ".join(fix["commands"][0])
    work = tmp_path / "work" / plan["job_id"]
    assert f"file:{work / 'video-source.mp4'}" in argv  # where submit keeps its copy
    assert "preflight-dry-run-" not in argv  # not the dry run's own temp folder
    assert plan["hosting"]["video"].startswith("the fixed video: uploaded to s3://b/in")
    assert plan["estimate"]["amount"] == "0.140"
    nothing_sent(sandbox, tmp_path)
    assert not work.exists()

    refused = run(sandbox, tmp_path, *args, "--max-cost", "0.10")
    assert refused.exit_code == 1, refused.output
    assert "would send: no, refused: the job would cost an estimated $0.140" in refused.output
    assert "request:" in refused.output  # still shows what it would have sent
    nothing_sent(sandbox, tmp_path)


def test_the_dry_run_does_not_pretend_to_cover_advanced_lip_sync(
    sandbox: Sandbox, media: Media, tmp_path: Path
) -> None:
    url = sandbox.serve_file(media("ok"))
    dry = run(sandbox, tmp_path, "submit", url, "--audio", str(media("mp3")), "--advanced",
              "--no-face", "--dry-run")  # fmt: skip
    assert dry.exit_code == 2, dry.output
    assert "identify-face" in dry.output
    nothing_sent(sandbox, tmp_path)
