"""Issue 10, item 2: FFmpeg never opens the network by itself during a URL probe.

The server answers preflight with an MP4 and FFmpeg's ``Lavf`` user agent with an HLS playlist
whose segment sits on a second loopback server. Before the fix, ``--backend ffprobe`` handed
ffprobe the URL, ffprobe fetched it itself, got the playlist and fetched the second server.
Now preflight fetches the bytes under its caps and ffprobe reads only that local copy, with no
network protocol and no playlist demuxer allowed: the second server must see no request.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.model.errors import ProbeError
from preflight.probing import probe
from preflight.probing._ffprobe import run_ffprobe
from reliability.hostile_http import ByAgent, Hostile, Media, hls_playlist

Media_ = Callable[[str], Path]
TEXT = ("--text", "Hello there", "--voice-id", "genshin_klee2", "--voice-language", "en")


@pytest.mark.parametrize("ranges", [True, False], ids=["ranges", "no-ranges"])
def test_ffprobe_backend_fetches_nothing_itself(media: Media_, ranges: bool) -> None:
    clip = media("ok").read_bytes()
    with Hostile({"/seg.ts": Media(clip, content_type="video/mp2t")}) as second:
        playlist = hls_playlist(second.url("/seg.ts"))
        switch = ByAgent(
            other=Media(clip, ranges=ranges),
            lavf=Media(playlist, content_type="application/vnd.apple.mpegurl"),
        )
        with Hostile({"/clip.mp4": switch}) as first:
            facts = probe(first.url("/clip.mp4"), backend="ffprobe")
            result = CliRunner().invoke(
                main,
                ["check", "--no-face", "--backend", "ffprobe", *TEXT, first.url("/clip.mp4")],
                catch_exceptions=False,
            )
            agents = list(first.agents)
        assert second.total_hits() == 0
    assert not any(a.startswith("Lavf") for a in agents), agents
    assert facts.video is not None
    assert facts.video.width == 1280
    assert facts.backend == "ffprobe"
    assert result.exit_code == 0, result.output


def test_a_fetched_playlist_cannot_reach_the_network(tmp_path: Path) -> None:
    """Even a playlist that reached ffprobe as a local file opens nothing: no hls, no http."""
    with Hostile({"/seg.ts": Media(b"\0" * 188, content_type="video/mp2t")}) as second:
        local = tmp_path / "clip.mp4"
        local.write_bytes(hls_playlist(second.url("/seg.ts")))
        with pytest.raises(ProbeError):
            run_ffprobe(str(local))
        assert second.total_hits() == 0
