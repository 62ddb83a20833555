"""Issue 10, item 2: redirects are followed over http(s) only, at most 5 hops, each hop checked.

A redirect to ``file:`` or another scheme is refused with a clear ``input.readable`` finding; a
redirect loop stops after 5 hops (the server counts them); 5 hops to real media still work.
The same rules hold for a download of a URL input or a result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.model.errors import APIError, InputError
from preflight.probing import probe
from preflight.submitting.download import download
from reliability.hostile_http import Hostile, Media, Redirect

Media_ = Callable[[str], Path]


def readable(url: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        ["check", "--no-face", "--format", "json", "--url-timeout", "10", url],
        catch_exceptions=False,
    )
    doc = json.loads(result.stdout)
    found = [f for f in doc["results"][0]["findings"] if f["rule"] == "input.readable"]
    assert found, doc
    return result.exit_code, found[0]["message"]


@pytest.mark.parametrize(
    ("location", "words"),
    [
        ("file:///etc/passwd", "not http(s)"),
        ("ftp://127.0.0.1:1/clip.mp4", "not http(s)"),
        ("/loop?n={n}", "more than 5 times"),
    ],
    ids=["to-file", "to-ftp", "loop"],
)
def test_bad_redirects_are_refused(location: str, words: str) -> None:
    with Hostile({"/clip.mp4": Redirect(location), "/loop": Redirect("/loop?n={n}")}) as srv:
        code, message = readable(srv.url("/clip.mp4"))
        hops = srv.total_hits()
    assert code == 1
    assert words in message
    assert hops <= 1 + 5  # the first request and at most five redirects followed


def test_five_hops_to_media_are_followed(media: Media_) -> None:
    routes: dict[str, object] = {f"/r{i}": Redirect(f"/r{i + 1}") for i in range(1, 5)}
    routes["/r5"] = Redirect("/clip.mp4")
    routes["/clip.mp4"] = Media(media("ok").read_bytes(), ranges=True)
    with Hostile(routes) as srv:
        facts = probe(srv.url("/r1"))
    assert facts.video is not None
    assert facts.video.width == 1280


def test_six_hops_are_too_many() -> None:
    routes: dict[str, object] = {f"/r{i}": Redirect(f"/r{i + 1}") for i in range(1, 7)}
    with Hostile(routes) as srv:
        with pytest.raises(InputError, match="more than 5 times"):
            probe(srv.url("/r1"))
        assert srv.hits["/r7"] == 0


@pytest.mark.parametrize("location", ["file:///etc/hostname", "/loop?n={n}"])
def test_downloads_follow_the_same_rules(tmp_path: Path, location: str) -> None:
    with Hostile({"/r.mp4": Redirect(location), "/loop": Redirect("/loop?n={n}")}) as srv:
        with pytest.raises(APIError, match=r"not http|more than 5"):
            download(srv.url("/r.mp4"), tmp_path / "out.mp4", deadline=10)
        assert srv.total_hits() <= 6
    assert not (tmp_path / "out.mp4").exists()
