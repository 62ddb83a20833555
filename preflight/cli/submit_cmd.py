"""`preflight submit`, `jobs`, `resume`, `animate`, `demo`: thin layers over `preflight.submit`.

Exit codes: 0 the result is downloaded (or the task was left running with ``--no-wait``);
1 an input is missing, unreadable or rejected, or the task failed (the reason is printed);
2 usage or configuration errors;
3 gave up waiting (the job id is printed: ``preflight resume JOB`` continues it).
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click

from preflight.cli import examples
from preflight.cli.submit_engine import engine_options, on_engine, pop_engine
from preflight.cli.url_timeout import apply_url_timeout, url_timeout_option
from preflight.model.display import printable, printable_lines
from preflight.model.errors import PreflightError
from preflight.model.speech import DEFAULT_VOICE_LANGUAGE, DEFAULT_VOICE_SPEED, VOICE_LANGUAGES
from preflight.submitting.ledger import JobRecord, JobStatus, Ledger
from preflight.submitting.model import Event, JobResult, Outcome, SubmitRequest
from preflight.submitting.registry import PROVIDERS, REGISTRY
from preflight.submitting.states import TERMINAL

__all__ = ["animate", "demo", "jobs", "jobs_cancel", "jobs_rm", "resume", "submit"]

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
        line = f"{SPINNER[self._tick % len(SPINNER)]} {printable(self._status)}{clock}"
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
            # names and provider messages may hold newlines or ESC: never raw on a terminal/CI log
            click.secho(printable_lines(text), file=self.err if err else self.out, **style)

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
        if event.step == "check" and event.state in ("fail", "done"):
            self._check(event)
            return
        if event.step == "face" and event.state == "fail" and "faces" in event.data:
            return  # no face could be chosen: the usage error that ends the run lists them
        if event.state == "start" and self.tty:
            self.status(event.message)
            return
        colour = {"fail": "red", "done": "green"}.get(event.state)
        self.line(f"{event.step}: {event.message}", fg=colour)

    def _check(self, event: Event) -> None:
        """The check step as `preflight check` shows it: errors, and warnings even on a pass."""
        failed = event.state == "fail"
        self.line(f"check: {event.message}", fg="yellow" if failed else "green")
        marks = {"error": "✗", "warning": "!"}
        for finding in event.data.get("findings", []):
            mark = marks.get(finding.get("severity", ""))
            if mark is not None:
                fixable = " (fixable)" if finding.get("fixable") and failed else ""
                self.line(f"  {mark} {finding['rule']}: {finding['message']}{fixable}")

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
        elif outcome is Outcome.BLOCKED:
            self.line(f"blocked: {result.reason}", err=False, fg="yellow")
            self.line(f"  to continue: {result.action}", err=False)
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
    from preflight.submitting.registry import make_provider

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


# how long to wait for a task: the same on submit, resume and animate
_TIMEOUT = click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Seconds to wait for each task before giving up (exit 3).",
)


# the hosting options: the same on submit, resume and animate
_UPLOAD_TO = click.option(
    "--upload-to",
    metavar="s3://BUCKET/PREFIX",
    help="Host local media on S3-compatible storage (AWS_ENDPOINT_URL for others).",
)


# what the video says: an audio file, or text for a voice (`preflight.model.speech.Speech`);
# the same options on submit and animate
_SOUND = [
    click.option("--audio", metavar="AUDIO", help="Audio file or URL (audio2video)."),
    click.option("--text", metavar="TEXT", help="Text to speak (text2video); needs --voice-id."),
    click.option(
        "--voice-id", metavar="V", help="Voice for --text (`preflight voices` lists them)."
    ),
    click.option(
        "--voice-language",
        type=click.Choice(VOICE_LANGUAGES),
        help=f"Default: {DEFAULT_VOICE_LANGUAGE}.",
    ),
    click.option(
        "--voice-speed", type=float, metavar="S", help=f"0.8-2.0 (default {DEFAULT_VOICE_SPEED})."
    ),
]


# how the inputs are judged before anything is spent: the same options on submit and animate
_JUDGING = [
    click.option(
        "--fix/--no-fix",
        "fix",
        default=True,
        show_default=True,
        help="Fix inputs that fail the check (or stop with the report).",
    ),
    click.option(
        "--face/--no-face",
        "face",
        default=True,
        show_default=True,
        help="Run the profile's face checks (with the vision extra installed).",
    ),
    click.option("--strict", is_flag=True, help="Warnings block the job too (as check --strict)."),
    click.option(
        "--config",
        metavar="FILE",
        help="preflight.toml or pyproject.toml [default: found upward, as check does].",
    ),
]


# Kling's advanced lip-sync (`preflight.submitting.faces`): submit only
_ADVANCED = [
    click.option(
        "--advanced",
        is_flag=True,
        help="Kling's advanced lip-sync: identify-face, then lip-sync one face (needs --audio).",
    ),
    click.option(
        "--face-index",
        type=int,
        metavar="N",
        help="With --advanced: the face to lip-sync, 0-based in identify-face's order "
        "[default: the face on screen longest].",
    ),
    click.option("--face-id", metavar="ID", help="With --advanced: the face, by its face_id."),
    click.option(
        "--sound-start", type=int, metavar="MS", help="With --advanced: the audio cut starts here."
    ),
    click.option(
        "--sound-end",
        type=int,
        metavar="MS",
        help="With --advanced: the audio cut ends here [default: the audio's end, within the "
        "video's length].",
    ),
    click.option(
        "--sound-insert",
        type=int,
        metavar="MS",
        help="With --advanced: where in the video the cut goes [default: the face's start].",
    ),
    click.option("--sound-volume", type=float, metavar="V", help="With --advanced: 0-2."),
    click.option(
        "--original-audio-volume",
        type=float,
        metavar="V",
        help="With --advanced: the video's own sound, 0-2.",
    ),
]
_ADVANCED_NAMES = ("face_index", "face_id", "sound_start", "sound_end", "sound_insert",
                   "sound_volume", "original_audio_volume")  # fmt: skip


def _advanced_choice(options: dict[str, Any]) -> Any:
    """Pop the advanced options from ``options``: the `AdvancedLipSync` asked for, or None."""
    from preflight.model.errors import UsageError
    from preflight.submitting.faces import AdvancedLipSync

    wanted = options.pop("advanced", False)
    values = {name: options.pop(name, None) for name in _ADVANCED_NAMES}
    if not wanted:
        given = [f"--{n.replace('_', '-')}" for n, v in values.items() if v is not None]
        if given:
            raise UsageError(
                f"{', '.join(given)} go{'es' if len(given) == 1 else ''} with --advanced"
            )
        return None
    return AdvancedLipSync(**values)


class Money(click.ParamType):  # type: ignore[type-arg]
    """An amount in USD: ``0.50`` or ``$0.50`` (a Decimal, never negative)."""

    name = "amount"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from decimal import Decimal, InvalidOperation

        if isinstance(value, Decimal):
            return value
        text = str(value).strip().removeprefix("$").strip()
        try:
            amount = Decimal(text)
        except InvalidOperation:
            self.fail(f"{value!r} is not an amount (e.g. 0.50 or $0.50)", param, ctx)
        if not amount.is_finite() or amount < 0:
            self.fail(f"{value!r} is not an amount of 0 or more", param, ctx)
        return amount


# the callback receiver (`preflight.submitting.listen`): the same on submit, resume and animate
_LISTEN = [
    click.option(
        "--listen",
        is_flag=False,
        flag_value="127.0.0.1:0",
        metavar="[HOST:]PORT",
        help="Receive the provider's callbacks here (loopback unless HOST is given; alone, a free "
        "port) and wake on them instead of polling often; still polls every 60 s "
        "(WaveSpeed: WAVESPEED_WEBHOOK_SECRET verifies webhooks). See docs/submit.md.",
    ),
    click.option(
        "--public-url",
        metavar="URL",
        help="With --listen (recommended): the URL the provider calls, which a tunnel or proxy "
        "forwards to the receiver; a real provider cannot reach loopback.",
    ),
]


def _listen(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_LISTEN):
        f = option(f)
    return f


def _judging(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_JUDGING):
        f = option(f)
    return f


def _sound(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_SOUND):
        f = option(f)
    return f


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_COMMON):
        f = option(f)
    return f


def _advanced(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_ADVANCED):
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
@_sound
@click.option(
    "--provider",
    type=click.Choice(PROVIDERS),
    default=PROVIDERS[0],
    show_default=True,
    help="Where the job runs: Kling directly, or a host that resells it (WaveSpeedAI, fal).",
)
@click.option("--profile", metavar="P", help="Default: the provider's profile for the mode.")
@_judging
@click.option("--callback-url", metavar="URL", help="The provider calls this URL when done.")
@click.option(
    "--external-task-id", metavar="ID", help="Your own id for the task (Kling; unique per account)."
)
@_UPLOAD_TO
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait for the result and download it, or stop once the task is created.",
)
@_TIMEOUT
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
    "--dry-run",
    is_flag=True,
    help="Check, plan the fix and the hosting, estimate, and print the exact request per job; "
    "send nothing, record nothing (exit 1 if a job would be refused).",
)
@click.option(
    "--max-cost",
    type=Money(),
    metavar="AMOUNT",
    help="Refuse (exit 1, nothing sent) a job, or a --jobs batch, whose estimate in USD is above "
    "AMOUNT; a job whose host publishes no price is refused too (`preflight estimate`).",
)
@click.option(
    "--jobs",
    "jobs_file",
    type=click.Path(dir_okay=False),
    metavar="JOBS.jsonl|JOBS.csv",
    help="Run one job per line (the jobs file check --jobs reads; see docs/check.md).",
)
@click.option(
    "--workers",
    "--concurrency",
    "concurrency",
    type=click.IntRange(1, 100),
    metavar="N",
    help="Jobs holding a provider slot at once (default: the provider's, e.g. 3 for Kling).",
)
@click.option("-q", "--quiet", is_flag=True, help="No live progress on the terminal.")
@_listen
@engine_options
@url_timeout_option
@_advanced
@_common
def submit(
    video: str | None,
    jobs_file: str | None,
    concurrency: int | None,
    ledger_path: str | None,
    fmt: str,
    quiet: bool = False,
    url_timeout: float | None = None,
    dry_run: bool = False,
    **options: Any,
) -> None:
    """Check, fix, host, submit, wait for and download one lip-sync job (or --jobs FILE).

    VIDEO and AUDIO are local paths or http(s) URLs. Running the same command again resumes the
    job instead of creating a second task.
    """
    apply_url_timeout(url_timeout)
    display = Display(fmt)
    display.tty = display.tty and not quiet
    advanced = _advanced_choice(options)
    if jobs_file is not None and advanced is not None:
        raise click.UsageError("--advanced runs one job: give VIDEO, not --jobs FILE")
    listening = _listening(options, display)
    engine = pop_engine(options)  # check and fix on a cluster: docs/scale.md
    if jobs_file is not None and video is not None:
        raise click.UsageError("give VIDEO or --jobs FILE, not both")
    if jobs_file is None and video is None:
        raise click.UsageError("give a VIDEO (path or URL), or --jobs FILE")
    if dry_run:
        if advanced is not None:
            raise click.UsageError(
                "--dry-run does not cover --advanced: its identify-face step is itself a request "
                "to Kling"
            )
        from preflight.cli.cost_cmd import dry_run_command

        dry_run_command(video, jobs_file, fmt, options)
        return
    if jobs_file is not None:
        with listening as listener:
            _batch(jobs_file, concurrency, ledger_path, display, options, listener, engine)
        return
    assert video is not None
    request = SubmitRequest(video=video, advanced=advanced, **options)
    if request.max_cost is not None:  # refused before the ledger is even opened
        from preflight.cli.cost_cmd import refuse_batch_over_budget
        from preflight.submitting.batch import BatchLine

        checked = request.validate()
        refuse_batch_over_budget(
            [BatchLine(checked.display_name, checked)], request.max_cost, display
        )
    with (
        listening as listener,
        _ledger(ledger_path) as ledger,
        _submitter(ledger, display, listener=listener) as runner,
        on_engine(runner, engine, fix=request.fix),
    ):
        result = runner.run(request)
    display.result(result)
    _finish(result)


def _listening(
    options: dict[str, Any], display: Display, providers: tuple[str, ...] | None = None
) -> Any:
    """The callback receiver ``--listen`` asks for (a context that starts and stops it), or a
    context that gives None; takes ``listen``/``public_url`` out of ``options``. ``providers``:
    those of the jobs it serves (default: ``options``' provider)."""
    listen, public_url = options.pop("listen", None), options.pop("public_url", None)
    if listen is None:
        if public_url is not None:
            raise click.UsageError("--public-url goes with --listen")
        return contextlib.nullcontext()
    from preflight.submitting.listen import listener_for

    return listener_for(
        listen,
        public_url=public_url,
        providers=providers or (options.get("provider") or PROVIDERS[0],),
        callback_url=options.get("callback_url"),
        wait=options.get("wait", True),
        on_event=display.event,
    )


def _batch(
    jobs_file: str,
    concurrency: int | None,
    ledger_path: str | None,
    display: Display,
    options: dict[str, Any],
    listener: Any = None,
    engine: dict[str, Any] | None = None,
) -> None:
    from preflight.submitting.batch import (
        batch_exit_code,
        read_job_lines,
        run_batch,
        summary,
    )

    defaults = {k: v for k, v in options.items() if v is not None and k not in ("out",)}
    wait, timeout, new = defaults.pop("wait"), defaults.pop("timeout"), defaults.pop("new")
    lines = read_job_lines(jobs_file, defaults)
    if options.get("max_cost") is not None:
        from preflight.cli.cost_cmd import refuse_batch_over_budget

        refuse_batch_over_budget(lines, options["max_cost"], display)
    lines = [
        line
        if line.request is None
        else type(line)(line.name, _with(line.request, wait=wait, timeout=timeout, new=new))
        for line in lines
    ]
    limit = concurrency or REGISTRY[options.get("provider") or PROVIDERS[0]].concurrency
    total = len(lines)
    done = [0]
    quiet = Display(display.fmt, out=display.out, err=display.err)
    quiet.event = lambda event: None  # type: ignore[method-assign]
    ledger = _ledger(ledger_path)
    submitter = _submitter(ledger, display if display.fmt == "json" else quiet, listener=listener)
    submitter.show_progress = False  # parallel fixes would draw over each other

    started = time.monotonic()

    def on_result(result: JobResult) -> None:
        done[0] += 1
        display.outcome_line(result)
        display.status(_bar(done[0], total, time.monotonic() - started))

    display.status(_bar(0, total, 0.0))
    with ledger, submitter, on_engine(submitter, engine or pop_engine({}), fix=options["fix"]):
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


@click.group(
    "jobs",
    invoke_without_command=True,
    epilog=examples(
        "preflight jobs",
        "preflight jobs --status blocked --format json",
        "preflight jobs rm JOB_ID",
    ),
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in JobStatus] + ["unfinished"]),
    help="Only jobs in this status (repeatable); 'unfinished' = not done/failed/rejected/"
    "cancelled.",
)
@_common
@click.pass_context
def jobs(ctx: click.Context, statuses: tuple[str, ...], ledger_path: str | None, fmt: str) -> None:
    """List the jobs in the ledger (or `jobs rm ID`, `jobs cancel ID`)."""
    ctx.ensure_object(dict)["ledger_path"] = ledger_path
    if ctx.invoked_subcommand is not None:
        return
    wanted = [s for s in statuses if s != "unfinished"]
    if "unfinished" in statuses:
        wanted += [s.value for s in JobStatus if s not in TERMINAL]
    from preflight.submitting.expiry import link_state

    with _ledger(ledger_path) as ledger:
        records = ledger.jobs(wanted)
    if fmt == "json":
        listed = []
        for r in records:
            link = link_state(r)
            listed.append({**r.to_dict(), "result_link": link and link.to_dict()})
        click.echo(json.dumps(listed, indent=2))
        return
    if not records:
        click.echo(f"no jobs in {ledger.path}", err=True)
        return
    for r in records:
        click.echo(_job_line(r))
        link = link_state(r)
        if link is not None:
            click.secho(f"  {link.message}", fg="red" if link.state == "expired" else "yellow")
    click.echo(_costs_line(records))


def _job_line(r: JobRecord) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.updated_at))
    detail = r.result_path if r.status is JobStatus.DONE else (r.error or r.task_id or "")
    return (
        f"{r.job_id:<16} {r.status.value:<10} {r.provider:<9} {when}  {_cost_text(r):<30} "
        f"{printable(r.name)}  {printable(str(detail))}"
    )


def _cost_text(r: JobRecord) -> str:
    """``est $0.070 · billed 1 units``: the estimate made before, what the provider billed."""
    from preflight.model.pricing import Estimate, money

    parts = []
    if r.estimate is not None:
        estimate = Estimate.from_dict(dict(r.estimate))
        shown = money(estimate.amount, estimate.currency) if estimate.published else "unpriced"
        parts.append(f"est {shown}")
    if r.billed is not None:
        parts.append(f"billed {r.billed.get('amount', 0):g} {r.billed.get('unit', '')}".rstrip())
    return " · ".join(parts) or "-"


def _costs_line(records: list[JobRecord]) -> str:
    """The totals under the listing: estimated (per currency) and billed (per unit)."""
    from decimal import Decimal

    from preflight.model.pricing import Estimate, money, total

    estimates = [Estimate.from_dict(dict(r.estimate)) for r in records if r.estimate is not None]
    sums, unpriced = total(estimates)
    shown = " + ".join(money(v, c) for c, v in sorted(sums.items())) or money(Decimal(0))
    text = f"{len(records)} job{'s' if len(records) != 1 else ''}: estimated {shown}"
    if unpriced:
        text += f" ({unpriced} with no published price)"
    billed: dict[str, float] = {}
    for r in records:
        if r.billed is not None:
            unit = str(r.billed.get("unit", ""))
            billed[unit] = billed.get(unit, 0.0) + float(r.billed.get("amount", 0))
    if billed:
        text += "; billed " + " + ".join(f"{v:g} {u}".rstrip() for u, v in sorted(billed.items()))
    return text


def _group_ledger(ledger_path: str | None) -> Ledger:
    """``--ledger`` given after the subcommand, else the one given to `jobs`, else the default."""
    parent = click.get_current_context().find_object(dict) or {}
    return _ledger(ledger_path or parent.get("ledger_path"))


_LEDGER_OPTION = click.option(
    "--ledger", "ledger_path", envvar="PREFLIGHT_LEDGER", metavar="PATH", help="The job ledger."
)


@jobs.command("rm")
@click.argument("job")
@click.option("--force", is_flag=True, help="Remove it even while a task may be running.")
@_LEDGER_OPTION
def jobs_rm(job: str, force: bool, ledger_path: str | None) -> None:
    """Remove JOB (an id or a unique prefix) from the ledger."""
    with _group_ledger(ledger_path) as ledger:
        record = ledger.remove(job, force=force)
    click.echo(f"removed job {record.job_id} ({record.status.value}, {record.name})")


@jobs.command("cancel")
@click.argument("job")
@_LEDGER_OPTION
def jobs_cancel(job: str, ledger_path: str | None) -> None:
    """Cancel JOB: `resume` and re-runs leave it alone (`submit --new` starts it again)."""
    from preflight.submitting.admin import cancel_job
    from preflight.submitting.registry import make_provider

    def ask(provider: str, task_id: str) -> str:  # only for providers that can cancel
        adapter = make_provider(provider)
        try:
            answer: str = adapter.cancel(task_id)  # type: ignore[attr-defined]
        finally:
            adapter.close()
        return answer

    with _group_ledger(ledger_path) as ledger:
        done = cancel_job(ledger, job, cancel=ask)
    click.echo(f"cancelled job {done.record.job_id} ({done.record.name})")
    if done.note:
        click.secho(f"note: {done.note}", fg="yellow", err=True)


@click.command(
    "resume",
    epilog=examples(
        "preflight resume",
        "preflight resume 3f2a9c --no-wait",
        "preflight resume 3f2a9c --listen 8765 --public-url https://tunnel.example/",
    ),
)
@click.argument("job", required=False)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait for the result and download it, or only look once.",
)
@_TIMEOUT
@_UPLOAD_TO
@_listen
@_common
def resume(
    job: str | None,
    wait: bool,
    timeout: float,
    upload_to: str | None,
    ledger_path: str | None,
    fmt: str,
    listen: str | None = None,
    public_url: str | None = None,
) -> None:
    """Continue JOB (an id or a unique prefix), or every unfinished job in the ledger.

    Blocked jobs (stopped by configuration) are listed with the action each needs and left alone,
    unless the options given here (``--upload-to``) are that action. Exit 0 unless a job resumed
    here fails. With ``--listen``, a job not yet created sends the receiver's URL; a task created
    before is polled as usual and woken by any callback that reaches the receiver.
    """
    display = Display(fmt)
    results: list[JobResult] = []
    with _ledger(ledger_path) as ledger:
        records = [ledger.get(job)] if job else ledger.unfinished()
        waiting = [r for r in records if r.status is JobStatus.BLOCKED and not job]
        if upload_to is None:
            records = [r for r in records if r not in waiting]
        listening = _listening(
            {"listen": listen, "public_url": public_url, "wait": wait},
            display,
            tuple(sorted({r.provider for r in records})),
        )
        if not records:  # nothing to wait for: no receiver to start
            listening = contextlib.nullcontext()
        with listening as listener, _submitter(ledger, display, listener=listener) as submitter:
            for record in records:
                _warn_link(record, display)
                results.append(
                    _resume_one(submitter, record, job, wait, timeout, upload_to, display)
                )
    if upload_to is None:
        _list_blocked(waiting, display)
    if not records and not waiting:
        display.line("nothing to resume")
    from preflight.submitting.batch import batch_exit_code

    _exit(batch_exit_code(results))


def _resume_one(
    submitter: Any,
    record: JobRecord,
    job: str | None,
    wait: bool,
    timeout: float,
    upload_to: str | None,
    display: Display,
) -> JobResult:
    try:
        result: JobResult = submitter.resume(
            record.job_id, wait=wait, timeout=timeout, upload_to=upload_to
        )
    except PreflightError as exc:
        if job:  # the one job asked for: its error is the command's
            raise
        result = JobResult(record.name, Outcome.FAILED, job_id=record.job_id, reason=str(exc))
    display.result(result)
    return result


def _warn_link(record: JobRecord, display: Display) -> None:
    """Before resuming a job: its result link is about to expire, or has."""
    from preflight.submitting.expiry import link_state

    link = link_state(record)
    if link is None:
        return
    if display.fmt == "json":
        entry = {"event": "result_link", "job_id": record.job_id, **link.to_dict()}
        display.out.write(json.dumps(entry) + "\n")
        return
    colour = "red" if link.state == "expired" else "yellow"
    display.line(f"job {record.job_id}: {link.message}", fg=colour)


def _list_blocked(records: list[JobRecord], display: Display) -> None:
    """The blocked jobs `resume` left alone, each with what it needs."""
    for r in records:
        if display.fmt == "json":
            entry = {"event": "blocked", "job_id": r.job_id, "name": r.name, "reason": r.error}
            display.out.write(json.dumps(entry) + "\n")
            continue
        display.line(f"blocked   {r.job_id} {r.name}: {r.error}", err=False, fg="yellow")


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
@_sound
@_judging
@_UPLOAD_TO
@_TIMEOUT
@click.option(
    "-o",
    "--output",
    "--out",
    "out",
    metavar="OUT.mp4",
    help="Where the result goes [default: NAME.lipsync.mp4 beside IMAGE].",
)
@click.option("--new", is_flag=True, help="Start a new job even if this one ran before.")
@_listen
@_common
def animate(image: str, ledger_path: str | None, fmt: str, **options: Any) -> None:
    """Make a talking video from IMAGE: image2video with --prompt, then lip-sync it.

    With ``--listen``, the lip-sync task wakes on callbacks; image2video is polled.
    """
    from preflight.submitting.animate import AnimateRequest, run_animate

    display = Display(fmt)
    listening = _listening(options, display)
    request = AnimateRequest(image=image, **options)
    with (
        listening as listener,
        _ledger(ledger_path) as ledger,
        _submitter(ledger, display, listener=listener) as runner,
    ):
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
