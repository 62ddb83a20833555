"""`preflight submit`, `jobs`, `resume`, `animate`, `demo`: thin layers over `preflight.submit`.

Exit codes: 0 the result is downloaded (or the task was left running with ``--no-wait``);
1 the input was rejected or the task failed (the reason is printed); 2 usage errors;
3 gave up waiting (the job id is printed: ``preflight resume JOB`` continues it).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click

from preflight.cli import examples
from preflight.model.errors import PreflightError
from preflight.submitting.ledger import JobStatus, Ledger
from preflight.submitting.model import Event, JobResult, Outcome, SubmitRequest

__all__ = ["animate", "demo", "jobs", "resume", "submit"]

DEFAULT_TIMEOUT = 3600.0
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
TICK = 0.25  # seconds between redraws of the live line


def _ledger(path: str | None) -> Ledger:
    return Ledger(path) if path else Ledger()


class Display:
    """Events and results on the terminal: a live status line on a TTY, plain lines otherwise,
    or one JSON object per line (``--format json``)."""

    def __init__(self, fmt: str, *, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.fmt = fmt
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.tty = fmt == "text" and self.err.isatty()
        self._lock = threading.Lock()
        self._status = ""
        self._since = 0.0
        self._tick = 0
        self._ticker: threading.Thread | None = None

    def _clear(self) -> None:
        if self.tty and self._status:
            self.err.write("\r\x1b[2K")
            self._status = ""

    def _draw(self) -> None:
        self._tick += 1
        elapsed = time.monotonic() - self._since
        clock = f"  {elapsed:.0f}s" if elapsed >= 2 else ""
        line = f"{SPINNER[self._tick % len(SPINNER)]} {self._status}{clock}"
        self.err.write("\r\x1b[2K" + line[: _width() - 1])
        self.err.flush()

    def _tick_forever(self) -> None:
        while True:  # a daemon thread: it ends with the process
            time.sleep(TICK)
            with self._lock:
                if self._status:
                    self._draw()

    def status(self, text: str) -> None:
        """The TTY's live line, redrawn with a spinner and the time spent (nothing elsewhere)."""
        if not self.tty:
            return
        with self._lock:
            if text != self._status:
                self._since = time.monotonic()
            self._status = text
            self._draw()
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick_forever, daemon=True)
                self._ticker.start()

    def line(self, text: str, *, err: bool = True, **style: Any) -> None:
        with self._lock:
            self._clear()
            click.secho(text, file=self.err if err else self.out, **style)

    def event(self, event: Event) -> None:
        if self.fmt == "json":
            with self._lock:
                self.out.write(json.dumps(event.to_dict(), default=str) + "\n")
                self.out.flush()
            return
        if event.state == "progress":
            self.status(event.message)
            return
        if event.step == "done" and event.message.startswith("result at"):
            return  # the result line names the output: once is enough
        if event.step == "check" and event.state == "fail":
            self.line(f"check: {event.message}", fg="yellow")
            for finding in event.data.get("findings", []):
                if finding.get("severity") == "error":
                    fixable = " (fixable)" if finding.get("fixable") else ""
                    self.line(f"  ✗ {finding['rule']}: {finding['message']}{fixable}")
            return
        if event.state == "start" and self.tty:
            self.status(event.message)
            return
        colour = {"fail": "red", "done": "green"}.get(event.state)
        self.line(f"{event.step}: {event.message}", fg=colour)

    def result(self, result: JobResult) -> None:
        if self.fmt == "json":
            with self._lock:
                self.out.write(json.dumps({"event": "result", **result.to_dict()}) + "\n")
                self.out.flush()
            return
        with self._lock:
            self._clear()
        outcome = result.outcome
        if outcome is Outcome.DONE:
            self.line(str(result.output), err=False)
        elif outcome is Outcome.SUBMITTED:
            self.line(
                f"task {result.task_id} created (job {result.job_id}); "
                f"`preflight resume {result.job_id}` collects it",
                err=False,
            )
        elif outcome is Outcome.TIMED_OUT:
            self.line(
                f"gave up waiting for task {result.task_id} (job {result.job_id}): "
                f"run `preflight resume {result.job_id}`",
                err=False,
                fg="yellow",
            )
        else:
            self.line(f"{outcome.value}: {result.reason}", err=False, fg="red")

    def outcome_line(self, result: JobResult) -> None:
        """Batch: one line per finished job."""
        if self.fmt == "json":
            self.result(result)
            return
        where = result.output if result.outcome is Outcome.DONE else result.reason
        colour = "green" if result.ok else "yellow" if result.exit_code == 3 else "red"
        self.line(f"{result.outcome.value:<9} {result.name}: {where}", err=False, fg=colour)


def _width() -> int:
    import shutil

    return shutil.get_terminal_size((80, 20)).columns


def _submitter(ledger: Ledger, display: Display, **kw: Any) -> Any:
    from preflight.submitting.pipeline import Submitter
    from preflight.submitting.providers import make_provider

    submitter = Submitter(ledger, make_provider, on_event=display.event, **kw)
    submitter.show_progress = display.tty
    return submitter


def _exit(code: int) -> None:
    click.get_current_context().exit(code)


def _finish(result: JobResult) -> None:
    _exit(result.exit_code)


_COMMON = [
    click.option(
        "--ledger",
        "ledger_path",
        envvar="PREFLIGHT_LEDGER",
        metavar="PATH",
        help="The job ledger (default: in the user data directory; env PREFLIGHT_LEDGER).",
    ),
    click.option(
        "-f",
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="json: one JSON object per event and result.",
    ),
]


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_COMMON):
        f = option(f)
    return f


@click.command(
    "submit",
    epilog=examples(
        "preflight submit clip.mp4 --audio voice.mp3",
        'preflight submit clip.mp4 --text "Hello" --voice-id genshin_klee2 -o talk.mp4',
        "preflight submit --jobs jobs.jsonl --concurrency 3",
    ),
)
@click.argument("video", required=False)
@click.option("--audio", metavar="AUDIO", help="Audio file or URL (audio2video).")
@click.option("--text", metavar="TEXT", help="Text to speak (text2video); needs --voice-id.")
@click.option("--voice-id", metavar="V", help="Voice for --text (`preflight voices` lists them).")
@click.option("--voice-language", type=click.Choice(["zh", "en"]), help="Default: en.")
@click.option("--voice-speed", type=float, metavar="S", help="0.8-2.0 (default 1.0).")
@click.option(
    "--provider",
    type=click.Choice(["kling", "wavespeed"]),
    default="kling",
    show_default=True,
    help="Where the job runs: Kling directly, or through WaveSpeedAI.",
)
@click.option("--profile", metavar="P", help="Default: the provider's profile for the mode.")
@click.option(
    "--fix/--no-fix",
    "fix",
    default=True,
    show_default=True,
    help="Fix inputs that fail the check (or stop with the report).",
)
@click.option(
    "--face/--no-face",
    "face",
    default=True,
    show_default=True,
    help="Run the profile's face checks (with the vision extra installed).",
)
@click.option("--callback-url", metavar="URL", help="The provider calls this URL when done.")
@click.option(
    "--external-task-id", metavar="ID", help="Your own id for the task (Kling; unique per account)."
)
@click.option(
    "--upload-to",
    metavar="s3://BUCKET/PREFIX",
    help="Host local media on S3-compatible storage (AWS_ENDPOINT_URL for others).",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait for the result and download it, or stop once the task is created.",
)
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Seconds to wait for the task before giving up (exit 3).",
)
@click.option(
    "-o",
    "--output",
    "--out",
    "out",
    metavar="OUT.mp4",
    help="Where the result goes [default: NAME.lipsync.mp4 beside VIDEO].",
)
@click.option("--new", is_flag=True, help="Start a new job even if this one ran before.")
@click.option(
    "--jobs",
    "jobs_file",
    type=click.Path(dir_okay=False),
    metavar="JOBS.jsonl",
    help="Run one job per line (same fields as the options).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 100),
    metavar="N",
    help="Jobs holding a provider slot at once (default: 3 for Kling, 5 WaveSpeed).",
)
@click.option("-q", "--quiet", is_flag=True, help="No live progress on the terminal.")
@_common
def submit(
    video: str | None,
    jobs_file: str | None,
    concurrency: int | None,
    ledger_path: str | None,
    fmt: str,
    quiet: bool = False,
    **options: Any,
) -> None:
    """Check, fix, host, submit, wait for and download one lip-sync job (or --jobs FILE).

    VIDEO and AUDIO are local paths or http(s) URLs. Running the same command again resumes the
    job instead of creating a second task.
    """
    display = Display(fmt)
    display.tty = display.tty and not quiet
    if jobs_file is not None:
        if video is not None:
            raise click.UsageError("give VIDEO or --jobs FILE, not both")
        _batch(jobs_file, concurrency, ledger_path, display, options)
        return
    if video is None:
        raise click.UsageError("give a VIDEO (path or URL), or --jobs FILE")
    request = SubmitRequest(video=video, **options)
    with _ledger(ledger_path) as ledger, _submitter(ledger, display) as runner:
        result = runner.run(request)
    display.result(result)
    _finish(result)


def _batch(
    jobs_file: str,
    concurrency: int | None,
    ledger_path: str | None,
    display: Display,
    options: dict[str, Any],
) -> None:
    from preflight.submitting.batch import (
        DEFAULT_CONCURRENCY,
        batch_exit_code,
        read_job_lines,
        run_batch,
        summary,
    )

    defaults = {k: v for k, v in options.items() if v is not None and k not in ("out",)}
    wait, timeout, new = defaults.pop("wait"), defaults.pop("timeout"), defaults.pop("new")
    lines = read_job_lines(jobs_file, defaults)
    lines = [
        line
        if line.request is None
        else type(line)(line.name, _with(line.request, wait=wait, timeout=timeout, new=new))
        for line in lines
    ]
    limit = concurrency or DEFAULT_CONCURRENCY[options.get("provider") or "kling"]
    total = len(lines)
    done = [0]
    quiet = Display(display.fmt, out=display.out, err=display.err)
    quiet.event = lambda event: None  # type: ignore[method-assign]
    ledger = _ledger(ledger_path)
    submitter = _submitter(ledger, display if display.fmt == "json" else quiet)
    submitter.show_progress = False  # parallel fixes would draw over each other

    started = time.monotonic()

    def on_result(result: JobResult) -> None:
        done[0] += 1
        display.outcome_line(result)
        display.status(_bar(done[0], total, time.monotonic() - started))

    display.status(_bar(0, total, 0.0))
    with ledger, submitter:
        results = run_batch(submitter, lines, concurrency=limit, on_result=on_result)
    report = summary(results)
    if display.fmt == "json":
        display.out.write(json.dumps({"event": "summary", **report}) + "\n")
    else:
        display.line(json.dumps({k: v for k, v in report.items() if k != "results"}), err=False)
    _exit(batch_exit_code(results))


def _bar(done: int, total: int, elapsed: float, width: int = 30) -> str:
    """``[█████·····] 4/10 jobs · 1.2/min · ETA 5:00``: counts, rate and time left."""
    from preflight.cli.progress import eta_text

    filled = int(width * done / total) if total else width
    return f"[{'█' * filled}{'·' * (width - filled)}] {eta_text(done, total, elapsed, 'jobs')}"


def _with(request: SubmitRequest, **changes: Any) -> SubmitRequest:
    from dataclasses import replace

    return replace(request, **changes)


@click.command(
    "jobs",
    epilog=examples("preflight jobs", "preflight jobs --status unfinished --format json"),
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in JobStatus] + ["unfinished"]),
    help="Only jobs in this status (repeatable); 'unfinished' = not done/failed/rejected.",
)
@_common
def jobs(statuses: tuple[str, ...], ledger_path: str | None, fmt: str) -> None:
    """List the jobs in the ledger."""
    wanted = [s for s in statuses if s != "unfinished"]
    if "unfinished" in statuses:
        wanted += [s.value for s in JobStatus if s.value not in ("done", "failed", "rejected")]
    with _ledger(ledger_path) as ledger:
        records = ledger.jobs(wanted)
    if fmt == "json":
        click.echo(json.dumps([r.to_dict() for r in records], indent=2))
        return
    if not records:
        click.echo(f"no jobs in {ledger.path}", err=True)
        return
    for r in records:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.updated_at))
        detail = r.result_path if r.status is JobStatus.DONE else (r.error or r.task_id or "")
        click.echo(
            f"{r.job_id:<16} {r.status.value:<10} {r.provider:<9} {when}  {r.name}  {detail}"
        )


@click.command(
    "resume",
    epilog=examples("preflight resume", "preflight resume 3f2a9c --no-wait"),
)
@click.argument("job", required=False)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait for the result and download it, or only look once.",
)
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Seconds to wait for each task before giving up (exit 3).",
)
@_common
def resume(job: str | None, wait: bool, timeout: float, ledger_path: str | None, fmt: str) -> None:
    """Continue JOB (an id or a unique prefix), or every unfinished job in the ledger."""
    display = Display(fmt)
    results = []
    with _ledger(ledger_path) as ledger, _submitter(ledger, display) as submitter:
        records = [ledger.get(job)] if job else ledger.unfinished()
        if not records:
            display.line("nothing to resume")
            return
        for record in records:
            try:
                result = submitter.resume(record.job_id, wait=wait, timeout=timeout)
            except PreflightError as exc:
                if job:  # the one job asked for: its error is the command's
                    raise
                result = JobResult(record.name, Outcome.FAILED, job_id=record.job_id,
                                   reason=str(exc))  # fmt: skip
            display.result(result)
            results.append(result)
    from preflight.submitting.batch import batch_exit_code

    _exit(batch_exit_code(results))


@click.command(
    "animate",
    epilog=examples(
        'preflight animate face.jpg --prompt "a person talking" --audio voice.mp3',
        'preflight animate face.jpg --prompt "smiling" --text "Hi" --voice-id genshin_klee2',
        'preflight animate face.jpg --prompt "calm" --audio voice.mp3 --mode pro -o talk.mp4',
    ),
)
@click.argument("image")
@click.option("--prompt", required=True, metavar="P", help="What the video should show.")
@click.option("--negative-prompt", metavar="N", help="What it should not show.")
@click.option(
    "--duration",
    type=click.Choice(["5", "10"]),
    default="5",
    show_default=True,
    help="Seconds of video.",
)
@click.option(
    "--mode",
    type=click.Choice(["std", "pro"]),
    default="std",
    show_default=True,
    help="Kling's quality mode (pro costs more).",
)
@click.option("--model", "model_name", metavar="NAME", help="Kling model, e.g. kling-v1-6.")
@click.option("--audio", metavar="AUDIO", help="Audio file or URL to lip-sync to.")
@click.option("--text", metavar="TEXT", help="Text to speak instead of --audio.")
@click.option("--voice-id", metavar="V", help="Voice for --text (`preflight voices` lists them).")
@click.option("--voice-language", type=click.Choice(["zh", "en"]), help="Language of the voice.")
@click.option("--voice-speed", type=float, metavar="S", help="0.8-2.0 (default 1.0).")
@click.option(
    "--fix/--no-fix",
    "fix",
    default=True,
    show_default=True,
    help="Fix inputs that fail the check (or stop with the report).",
)
@click.option(
    "--face/--no-face",
    "face",
    default=True,
    show_default=True,
    help="Run the profile's face checks (with the vision extra installed).",
)
@click.option(
    "--upload-to",
    metavar="s3://BUCKET/PREFIX",
    help="Host local media on S3-compatible storage (AWS_ENDPOINT_URL for others).",
)
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Seconds to wait for each task before giving up (exit 3).",
)
@click.option(
    "-o",
    "--output",
    "--out",
    "out",
    metavar="OUT.mp4",
    help="Where the result goes [default: NAME.lipsync.mp4 beside IMAGE].",
)
@click.option("--new", is_flag=True, help="Start a new job even if this one ran before.")
@_common
def animate(image: str, ledger_path: str | None, fmt: str, **options: Any) -> None:
    """Make a talking video from IMAGE: image2video with --prompt, then lip-sync it."""
    from preflight.submitting.animate import AnimateRequest, run_animate

    display = Display(fmt)
    request = AnimateRequest(image=image, **options)
    with _ledger(ledger_path) as ledger, _submitter(ledger, display) as runner:
        result = run_animate(runner, request)
    display.result(result)
    _finish(result)


@click.command(
    "demo",
    epilog=examples("preflight demo", "preflight demo --out-dir demo/ --format json"),
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Where the sample, the fixed clip and the result go (default: a new temp dir).",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per event and result.",
)
def demo(out_dir: str | None, fmt: str) -> None:
    """Run the whole job on a local sandbox: no keys, no network."""
    from preflight.cli.demo import run_demo

    display = Display(fmt)
    result = run_demo(Path(out_dir) if out_dir else None, display=display)
    display.result(result)
    _finish(result)
