"""Attack 4: `kill -9` of preflight (or of its process group) must not leave FFmpeg running, and
what a killed run left behind is removed by the next one.

Before: FFmpeg ran in its own session, so it survived `kill -9` of preflight and of preflight's
process group (what CI timeouts send), encoding to the end next to a `.preflight-tmp.mp4`; and
SIGTERM during a URL download left `preflight-*.download` in the temp directory.
"""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from preflight.toolchain import leftovers, runner

Media = Callable[[str], Path]
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's"
)


def _children(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] not in ("Z", "X")


def _wait_for(condition: Callable[[], object], what: str, limit: float = 120.0) -> object:
    deadline = time.monotonic() + limit
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)  # polling, not a fixed delay: the loop ends as soon as it holds


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if runner.TEMP_MARK in p.name]


def _start_fix(src: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "preflight", "fix", str(src), "-o", str(out), "--preset", "slow"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, as a CI job step has
    )


@pytest.mark.parametrize("target", ["process", "group"])
def test_kill_9_of_a_running_fix_takes_ffmpeg_with_it(
    media: Media, tmp_path: Path, target: str
) -> None:
    src = tmp_path / "in.mp4"
    shutil.copyfile(media("uhd"), src)
    out = tmp_path / "out.mp4"
    proc = _start_fix(src, out)
    try:
        (ffmpeg,) = _wait_for(lambda: _children(proc.pid), "FFmpeg to start")  # type: ignore[misc]
        _wait_for(lambda: _temps(tmp_path), "the temp output")
        if target == "group":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        _wait_for(lambda: not _running(ffmpeg), "FFmpeg to die with preflight", limit=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    left = _temps(tmp_path)
    assert left  # what kill -9 leaves: no finally ran
    # the next run in that folder removes the dead run's temp file, and only that
    other = tmp_path / f".other{runner.TEMP_MARK}-{leftovers.owner_tag()}.mp4"
    other.write_bytes(b"a live process's temp file")
    small = tmp_path / "small.mp4"
    shutil.copyfile(media("small"), small)
    done = subprocess.run(
        [sys.executable, "-m", "preflight", "fix", str(small), "-o", str(tmp_path / "fixed.mp4")],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _temps(tmp_path) == [other]
    assert src.read_bytes() == media("uhd").read_bytes()  # the input is never touched


def test_children_started_from_a_short_lived_thread_outlive_it(media: Media) -> None:
    """PDEATHSIG fires when the *thread* that forked the child ends: a frame stream opened in a
    worker thread that then finishes must still deliver every frame."""
    holder: dict[str, Iterator[bytes]] = {}

    def open_stream() -> None:
        frames = runner.read_frames(media("small"), width=32, height=18, fps=5)
        holder["first"] = iter([next(frames)])
        holder["rest"] = frames

    worker = threading.Thread(target=open_stream)
    worker.start()
    worker.join()
    assert not worker.is_alive()
    rest = list(holder["rest"])
    assert len(rest) >= 10  # 3 s at 5 fps, less the first: the child was not killed


class _SlowBody(http.server.BaseHTTPRequestHandler):
    """A server without range support that trickles a body: preflight has to download it."""

    fast = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(64 * 1024 * 1024))
        self.end_headers()
        chunk = b"\0" * 65536
        try:
            while True:
                self.wfile.write(chunk)
                self.wfile.flush()
                if not self.fast.is_set():
                    self.fast.wait(0.05)  # a trickle: 1.3 MB/s
        except OSError:
            return

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowBody)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/clip.mp4"
    server.shutdown()
    server.server_close()


def _downloads(folder: Path) -> list[Path]:
    return sorted(folder.glob("preflight-*.download"))


def _start_check(url: str, tmp: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TMPDIR": str(tmp), "PREFLIGHT_CACHE_DIR": str(tmp.parent / "cache")}
    return subprocess.Popen(
        [sys.executable, "-m", "preflight", "check", url, "--no-face"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_url_download_leaves_nothing_in_the_temp_directory(
    slow_server: str, tmp_path: Path, sig: signal.Signals
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _start_check(slow_server, tmp)
    try:
        _wait_for(lambda: _downloads(tmp), "the download to start")
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        stderr = proc.stderr.read().decode()
        proc.stderr.close()
    if sig == signal.SIGTERM:
        assert _downloads(tmp) == [], stderr  # cleaned up on the way out
        assert "Traceback" not in stderr
        return
    assert _downloads(tmp)  # kill -9 runs no cleanup ...
    mine = tmp / f"preflight-{leftovers.owner_tag()}-alive.download"
    mine.write_bytes(b"a live process's download")
    _SlowBody.fast.set()
    try:
        again = _start_check(slow_server, tmp)
        again.communicate(timeout=120)
    finally:
        _SlowBody.fast.clear()
    assert _downloads(tmp) == [mine]  # ... the next run removes the dead one's download only


@pytest.mark.parametrize(
    ("tag", "alive"),
    [
        (leftovers.owner_tag(), True),
        (f"{os.getpid()}x1", False),  # this pid, but another start time: a reused pid
        ("999999999x5", False),
        ("2147483647x0", False),
    ],
)
def test_owner_alive(tag: str, alive: bool) -> None:
    assert leftovers.owner_alive(tag) is alive
