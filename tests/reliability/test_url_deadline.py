"""Issue 10, item 1: a URL that drips bytes or header lines ends at --url-timeout, never hangs.

Before the overall deadline, httpx's 30 s timeout was per read: a server sending a byte every
half second kept `preflight check URL` alive until the server gave up (minutes). Each test runs
the command against the hostile loopback server with ``--url-timeout 2`` and asserts the
finding, the exit code, and a loose bound on the time taken.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.client.deadline import Deadline, DeadlineExceeded, deadline_client
from preflight.model.errors import APIConnectionError, InputError
from preflight.probing import probe
from preflight.submitting.download import download, part_path
from reliability.hostile_http import Hostile, Media, SlowBody, SlowHeaders

Media_ = Callable[[str], Path]
BOUND_S = 20.0  # loose: the deadline is 2 s; before the fix these ran for minutes


def check_json(url: str, *extra: str) -> tuple[int, dict[str, object], float]:
    started = time.monotonic()
    result = CliRunner().invoke(
        main,
        ["check", "--no-face", "--format", "json", "--url-timeout", "2", *extra, url],
        catch_exceptions=False,
    )
    return result.exit_code, json.loads(result.stdout), time.monotonic() - started


def readable_message(doc: dict[str, object]) -> str:
    results = doc["results"]
    assert isinstance(results, list)
    found = [f for f in results[0]["findings"] if f["rule"] == "input.readable"]
    assert found, results[0]["findings"]
    assert found[0]["severity"] == "error"
    return str(found[0]["message"])


@pytest.mark.parametrize("route", [SlowBody(), SlowHeaders()], ids=["slow-body", "slow-headers"])
@pytest.mark.parametrize("backend", ["mediainfo", "ffprobe"])
def test_check_gives_up_at_url_timeout(route: object, backend: str) -> None:
    with Hostile({"/clip.mp4": route}) as srv:
        code, doc, took = check_json(srv.url("/clip.mp4"), "--backend", backend)
    assert code == 1
    assert "did not finish within 2 s" in readable_message(doc)
    assert took < BOUND_S


def test_probe_command_gives_up_at_url_timeout() -> None:
    with Hostile({"/clip.mp4": SlowBody(every=0.2)}) as srv:
        started = time.monotonic()
        result = CliRunner().invoke(main, ["probe", "--url-timeout", "1.5", srv.url("/clip.mp4")])
        took = time.monotonic() - started
    assert result.exit_code == 1
    assert "did not finish within 1.5 s" in result.stderr
    assert took < BOUND_S


def test_environment_sets_the_deadline_for_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFLIGHT_URL_TIMEOUT", "1")
    with Hostile({"/clip.mp4": SlowHeaders(every=0.2)}) as srv:
        started = time.monotonic()
        with pytest.raises(InputError, match="within 1 s"):
            probe(srv.url("/clip.mp4"))
        assert time.monotonic() - started < BOUND_S


def test_a_fast_url_still_passes(media: Media_) -> None:
    data = media("ok").read_bytes()
    for ranges in (True, False):
        with Hostile({"/clip.mp4": Media(data, ranges=ranges)}) as srv:
            facts = probe(srv.url("/clip.mp4"), backend="ffprobe")
        assert facts.video is not None
        assert facts.video.width == 1280
        assert facts.size_bytes == len(data)


def test_deadline_bounds_each_read_of_a_drip() -> None:
    """The client alone: headers dripping never reach a loop of ours, the backend stops them."""
    deadline = Deadline(1.0)
    with Hostile({"/h": SlowHeaders(every=0.1)}) as srv, deadline_client(deadline) as client:
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            client.get(srv.url("/h"))
        assert time.monotonic() - started < BOUND_S
    assert deadline.expired()
    with pytest.raises(DeadlineExceeded):
        deadline.check()


def test_result_download_keeps_its_part_and_stops_at_the_deadline(tmp_path: Path) -> None:
    out = tmp_path / "result.mp4"
    with Hostile({"/r.mp4": SlowBody(size=1000, every=0.05)}) as srv:
        started = time.monotonic()
        with pytest.raises(APIConnectionError, match="within 1 s"):
            download(srv.url("/r.mp4"), out, deadline=1.0)
        took = time.monotonic() - started
    assert took < BOUND_S
    assert not out.exists()  # never a partial file at the target
    assert part_path(out).exists()  # what arrived is kept for the next run to continue


def test_submit_gives_up_on_a_dripping_url_before_spending(tmp_path: Path) -> None:
    from preflight.sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(clock_scale=0)) as sandbox, Hostile({"/c.mp4": SlowBody()}) as srv:
        env = {**sandbox.environment(), "PREFLIGHT_LEDGER": str(tmp_path / "l.sqlite3")}
        args = ["submit", "--no-face", srv.url("/c.mp4"), "--text", "hi", "--voice-id", "AOT"]
        args += ["--voice-language", "en", "--url-timeout", "2", "-o", str(tmp_path / "o.mp4")]
        started = time.monotonic()
        result = CliRunner().invoke(main, args, env=env)
        took = time.monotonic() - started
        assert sandbox.tasks() == []  # nothing was created, nothing paid
    assert result.exit_code == 1, result.output
    assert "within 2 s" in result.output
    assert took < BOUND_S


def test_submit_s_etag_lookup_gives_up_on_dripping_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HEAD that fingerprints a URL input runs under one overall deadline: a server that
    trickles header lines costs the fingerprint its ETag, not the submit its afternoon."""
    from preflight.submitting import pipeline

    monkeypatch.setattr(pipeline, "HEAD_TIMEOUT", 1.0)
    with Hostile({"/clip.mp4": SlowHeaders(every=0.3)}) as srv:
        start = time.monotonic()
        found = pipeline._url_fingerprint(srv.url("/clip.mp4"))
        took = time.monotonic() - start
    assert found == {"url": srv.url("/clip.mp4")}  # no ETag or size from a half answer
    assert took < 5


def test_face_check_copy_of_a_url_stops_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy a URL's face check decodes is fetched under the same overall deadline: it had
    only httpx's per-read timeout, so a server dripping a byte every half second held `check`
    (with faces on) for minutes."""
    from preflight.checking.faces import fetch_copy

    monkeypatch.setenv("PREFLIGHT_URL_TIMEOUT", "1")
    with Hostile({"/face.mp4": SlowBody(every=0.05)}) as srv:
        started = time.monotonic()
        with (
            pytest.raises(InputError, match="did not finish within 1 s"),
            fetch_copy(srv.url("/face.mp4")),
        ):
            pass
        took = time.monotonic() - started
    assert took < BOUND_S
