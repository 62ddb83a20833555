"""`preflight demo`: the whole job on the embedded default, with no keys and no network.

Starts the provider sandbox on loopback, makes a sample clip that Kling would reject (15 s,
640x360, Matroska), shows the check, fixes it, hosts it through the sandbox's own file serving,
submits it, waits, downloads the result and says where it is. Everything it writes goes to one
directory (a new temp directory unless given), including its own ledger.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Protocol

from preflight.submitting.hosting import Hosted
from preflight.submitting.model import Event, JobResult, SubmitRequest

__all__ = ["DEMO_TEXT", "DEMO_VOICE", "SandboxHost", "make_sample", "run_demo"]

DEMO_TEXT = "Hello! This clip was checked, fixed and lip-synced by preflight."
DEMO_VOICE = "genshin_klee2"
SAMPLE_NAME = "sample 640x360 15s.mkv"


class _Display(Protocol):
    def event(self, event: Event) -> None: ...

    def line(self, text: str, *, err: bool = True, **style: Any) -> None: ...


class SandboxHost:
    """Local files served by a running sandbox (the demo's stand-in for S3)."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox

    @property
    def target(self) -> str:
        return f"sandbox@{self.sandbox.url}"

    def upload(self, path: Path, *, sha256: str) -> Hosted:
        return Hosted(str(self.sandbox.serve_file(path)), None)


def make_sample(target: Path, *, seconds: float = 15.0, size: str = "640x360") -> Path:
    """A test-pattern clip with a tone, in Matroska: too long, too small, wrong container."""
    from preflight.toolchain.runner import TempOutput, run

    target.parent.mkdir(parents=True, exist_ok=True)
    with TempOutput(target) as tmp:
        run(
            [
                "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-shortest", "-f", "matroska", "-y", str(tmp.path),
            ],
            duration=seconds,
            label="making the sample clip",
        )  # fmt: skip
        tmp.commit()
    return target


def run_demo(out_dir: Path | None, *, display: _Display) -> JobResult:
    """Run the demo; the result of the lip-sync job (``output`` is the downloaded clip)."""
    from preflight.checking.check import check
    from preflight.client import KlingClient
    from preflight.fixing import FixOptions
    from preflight.report import render
    from preflight.sandbox import Sandbox, SandboxConfig
    from preflight.submitting.ledger import Ledger
    from preflight.submitting.pipeline import Submitter
    from preflight.submitting.providers import KlingProvider

    where = out_dir or Path(tempfile.mkdtemp(prefix="preflight-demo-"))
    where.mkdir(parents=True, exist_ok=True)
    display.line(f"demo: working in {where}")
    sample = make_sample(where / SAMPLE_NAME)
    display.line(f"demo: made a sample clip Kling would reject: {sample.name}")
    report = check(
        [sample],
        profile="kling-lipsync",
        text=DEMO_TEXT,
        voice_id=DEMO_VOICE,
        voice_language="en",
        voice_speed=1.0,
        face=False,
    )
    display.line(render(report, "text").rstrip())
    display.line("demo: face checks are off: the sample is a test pattern, not a person")

    with Sandbox(SandboxConfig(submitted_seconds=0.2, processing_seconds=0.5)) as sandbox:
        display.line(f"demo: started the provider sandbox at {sandbox.url} (loopback only)")
        client = KlingClient(
            sandbox.kling_access_key, sandbox.kling_secret_key, base_url=sandbox.url
        )
        with client:
            submitter = Submitter(
                Ledger(where / "ledger.sqlite3"),
                {"kling": KlingProvider(client)},
                on_event=display.event,
                fallback_host=SandboxHost(sandbox),
                work_dir=where / "work",
                fix_options=FixOptions(preset="veryfast"),
            )
            return submitter.run(
                SubmitRequest(
                    video=str(sample),
                    provider="kling",
                    text=DEMO_TEXT,
                    voice_id=DEMO_VOICE,
                    voice_language="en",
                    out=str(where / "sample.lipsync.mp4"),
                    face=False,  # a test pattern has no face: the face checks would stop it
                    timeout=120,
                )
            )
