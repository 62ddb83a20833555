"""Callbacks without polling: a receiver the provider POSTs to, and a wait that wakes on it.

`Listener` binds ``host:port`` (loopback by default) and serves in a daemon thread. Its `url` (or
``public_url`` when a tunnel or proxy forwards to it) is sent as Kling's ``callback_url`` or
WaveSpeed's ``?webhook=`` by the create step; the job key and the ledger never see it, so a re-run
on another port still resumes the same job. Each POST is answered at once and only recorded:

* WaveSpeed signs its webhooks: they are checked with the secret from ``WAVESPEED_WEBHOOK_SECRET``
  (`preflight.client.callbacks.verify_webhook`); a bad signature, a timestamp more than 300 s
  away, or an unsigned WaveSpeed body is refused with 401. A verified terminal webhook is
  trusted as it is.
* Kling's callbacks are unsigned: they are accepted as a hint, and the waiter queries the task
  before believing anything (a forged "succeed" changes nothing).
* A body over ``max_body`` (1 MB) is refused with 413 before it is read; one with no length, 411.

`Listener.wait` replaces polling for a task whose create carried this receiver's URL: it looks
once, then sleeps until a callback arrives for the task, or ``poll_interval`` (60 s) passes and it
polls anyway, so a lost callback delays a job but never hangs it. The standard library's
``ThreadingHTTPServer`` serves: a few small POSTs need no ASGI stack, and submit starts no faster
for importing one.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from preflight.client.callbacks import WEBHOOK_TOLERANCE, parse_callback, verify_webhook
from preflight.client.models import Task, TaskStatus
from preflight.model.errors import (
    APITimeoutError,
    ConfigError,
    InvalidRequestError,
    TaskFailedError,
    UsageError,
)
from preflight.submitting.model import Event

if TYPE_CHECKING:
    from preflight.submitting.providers import Provider

__all__ = [
    "DEFAULT_LISTEN",
    "MAX_BODY",
    "POLL_INTERVAL",
    "SECRET_ENV",
    "Delivery",
    "Listener",
    "Note",
    "listener_for",
    "parse_listen",
    "usual_polls",
]

DEFAULT_LISTEN = "127.0.0.1:0"  # `--listen` alone: a free loopback port
MAX_BODY = 1 << 20  # bytes; a task object is a few kB
POLL_INTERVAL = 60.0  # seconds between the fallback polls while callbacks are expected
READ_TIMEOUT = 10.0  # seconds a sender may take per read of its request
KEEP_TASKS = 1000  # the latest callback of at most this many tasks is kept
KEEP_IDS = 4096  # webhook ids remembered (a redelivery is answered, not counted twice)
SECRET_ENV = "WAVESPEED_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
WILDCARD_HOSTS = ("", "0.0.0.0", "::")  # noqa: S104 - refused below without --public-url


@dataclass(frozen=True, slots=True)
class Note:
    """The latest callback for a task: ``verified`` when its signature was checked."""

    task: Task
    verified: bool
    seq: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the receiver answered one POST (its log; never holds headers or the body)."""

    status: int
    reason: str
    task_id: str | None = None
    provider: str | None = None


def parse_listen(value: str) -> tuple[str, int]:
    """``PORT``, ``:PORT``, ``HOST:PORT`` or ``[V6]:PORT`` as (host, port); loopback by default."""
    text = value.strip()
    host, _, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]") or "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise UsageError(
            f"--listen takes [HOST:]PORT, e.g. 8765 or 127.0.0.1:8765 (got {value!r}); "
            "alone, after VIDEO, it picks a free loopback port"
        )
    return host, int(port)


class Listener:
    """The receiver (see the module docstring). ``with Listener(...) as listener:`` starts it and
    stops it however the block ends (Ctrl-C included). ``on_event`` hears what it does.

    ``secret`` is WaveSpeed's webhook signing secret (``whsec_...``); without one, WaveSpeed's
    webhooks are refused and its jobs finish by polling. It never appears in a repr or a message.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        public_url: str | None = None,
        secret: str | None = None,
        max_body: int = MAX_BODY,
        poll_interval: float = POLL_INTERVAL,
        tolerance: float = WEBHOOK_TOLERANCE,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        if public_url is not None:
            _check_public_url(public_url)
        elif host in WILDCARD_HOSTS:
            raise UsageError(
                f"--listen {host or '*'}: listening on every interface needs --public-url, the "
                "address the provider can reach"
            )
        if secret is not None and not secret.removeprefix("whsec_").strip():
            raise ConfigError(
                f"{SECRET_ENV} is empty: set it to the signing secret WaveSpeed shows for your "
                "webhooks (whsec_...), or unset it"
            )
        self.host = host
        self.port = port
        self.public_url = public_url
        self._secret = secret
        self.max_body = max_body
        self.poll_interval = poll_interval
        self.tolerance = tolerance
        self.on_event = on_event or (lambda event: None)
        self.deliveries: collections.deque[Delivery] = collections.deque(maxlen=1000)
        self._cond = threading.Condition()
        self._notes: collections.OrderedDict[str, Note] = collections.OrderedDict()
        self._seen_ids: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._expected: set[str] = set()
        self._seq = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # the secret never reaches a log or a traceback
        return f"Listener({self.host!r}, {self.port}, public_url={_origin(self.public_url)!r})"

    # --- lifetime ------------------------------------------------------------------------------

    def start(self) -> Listener:
        """Bind and serve in a daemon thread; ConfigError when the address cannot be bound."""
        if self._server is not None:
            return self
        try:
            server = _Server((self.host, self.port), _Handler, self)
        except OSError as exc:
            raise ConfigError(f"--listen: cannot listen on {self.host}:{self.port}: {exc}") from exc
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="preflight-listen",
            daemon=True,
        )
        self._thread.start()
        shown = f" (sent to the provider as {_origin(self.public_url)})" if self.public_url else ""
        self.on_event(
            Event(
                "listen",
                "info",
                f"receiving callbacks on {self.bind_url}{shown}",
                None,
                {"bind": self.bind_url},
            )
        )
        return self

    def close(self) -> None:
        """Stop serving and free the port (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def bind_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def url(self) -> str:
        """What the provider is told to call: ``public_url``, else the bound address."""
        return self.public_url or self.bind_url

    # --- what the create step tells it ---------------------------------------------------------

    def expect(self, task_id: str) -> None:
        """The task ``task_id`` was created with this receiver's URL: its wait may rely on it."""
        with self._cond:
            self._expected.add(task_id)

    def expects(self, task_id: str) -> bool:
        with self._cond:
            return task_id in self._expected

    # --- receiving -----------------------------------------------------------------------------

    def receive(self, headers: Mapping[str, str], raw: bytes) -> Delivery:
        """Judge one POST's headers and raw body; record it when accepted. Never raises."""
        lowered = {k.lower(): v for k, v in headers.items()}
        signed = any(name in lowered for name in SIGNATURE_HEADERS)
        if signed:
            refused = self._refusal(lowered, raw)
            if refused is not None:
                return self.log(Delivery(401, refused, provider="wavespeed"))
        try:
            task = parse_callback(raw)
        except InvalidRequestError:
            return self.log(Delivery(400, "not a task callback"))
        if task.provider == "wavespeed" and not signed:
            return self.log(Delivery(401, "unsigned WaveSpeed webhook", task.id, task.provider))
        if signed and self._replayed(lowered["webhook-id"]):
            return self.log(Delivery(200, "redelivery, already recorded", task.id, task.provider))
        self._record(task, verified=signed)
        reason = "signature verified" if signed else "unsigned: to be confirmed by a query"
        return self.log(Delivery(200, reason, task.id, task.provider))

    def _refusal(self, headers: Mapping[str, str], raw: bytes) -> str | None:
        """Why a signed webhook is refused, or None when it is WaveSpeed's and fresh."""
        if self._secret is None:
            return f"cannot check the signature: {SECRET_ENV} is not set"
        stamp = headers.get("webhook-timestamp", "")
        try:
            sent_at = int(stamp)
        except ValueError:
            return "no usable webhook-timestamp"
        if abs(time.time() - sent_at) > self.tolerance:
            return f"stale timestamp (more than {self.tolerance:g} s away)"
        if not verify_webhook(headers, raw, self._secret, tolerance=self.tolerance):
            return "bad signature"
        return None

    def _replayed(self, webhook_id: str) -> bool:
        with self._cond:
            if webhook_id in self._seen_ids:
                return True
            self._seen_ids[webhook_id] = None
            while len(self._seen_ids) > KEEP_IDS:
                self._seen_ids.popitem(last=False)
            return False

    def _record(self, task: Task, *, verified: bool) -> None:
        with self._cond:
            self._seq += 1
            self._notes[task.id] = Note(task, verified, self._seq)
            self._notes.move_to_end(task.id)
            while len(self._notes) > KEEP_TASKS:
                self._notes.popitem(last=False)
            self._cond.notify_all()

    def log(self, delivery: Delivery) -> Delivery:
        """Keep ``delivery`` in `deliveries`; tell ``on_event`` of a refusal (an accepted
        callback is told by the wait that reads it)."""
        self.deliveries.append(delivery)
        if delivery.status >= 400:
            about = f" for task {delivery.task_id}" if delivery.task_id else ""
            self.on_event(
                Event(
                    "listen",
                    "info",
                    f"refused a callback{about}: {delivery.status} {delivery.reason}",
                    None,
                    {"http_status": delivery.status, "task_id": delivery.task_id},
                )
            )
        return delivery

    def next_note(self, task_id: str, after: int, timeout: float) -> Note | None:
        """The latest callback for ``task_id`` newer than ``after`` (a `Note.seq`), waiting up to
        ``timeout`` seconds for one; None when none came."""

        def newer() -> Note | None:
            note = self._notes.get(task_id)
            return note if note is not None and note.seq > after else None

        with self._cond:
            self._cond.wait_for(lambda: newer() is not None, timeout)
            return newer()

    # --- waiting -------------------------------------------------------------------------------

    def wait(
        self,
        provider: Provider,
        task_id: str,
        *,
        timeout: float | None,
        on_update: Callable[[Task], object],
        on_note: Callable[..., None],
        polls: Iterable[float] | None = None,
    ) -> Task:
        """Wait for ``task_id`` as ``provider.wait`` does (same errors), woken by callbacks and
        polling every ``poll_interval`` seconds when none comes (or after each pause of
        ``polls``: `usual_polls` for a task whose callbacks may never come here). ``on_note(message,
        **data)`` hears how each look came about (``via``: ``callback`` or ``poll``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pauses = iter(polls) if polls is not None else itertools.repeat(self.poll_interval)
        task = provider.get_task(task_id)
        last = _report(task, None, on_update)
        seen = 0
        while not task.is_terminal:
            pause = next(pauses)
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise APITimeoutError(
                        f"{provider.name}: task {task_id} still {task.status.value} "
                        f"after {timeout:g}s of waiting"
                    )
                pause = min(pause, left)
            note = self.next_note(task_id, seen, pause)
            if note is None:
                task = provider.get_task(task_id)
                found = task.status.value
                on_note(f"no callback for {pause:g}s: polled, {found}", via="poll", status=found)
            else:
                seen = note.seq
                task = _believe(note, provider, on_note)
            last = _report(task, last, on_update)
        if task.status is TaskStatus.FAILED:
            raise TaskFailedError(
                f"{provider.name}: task {task_id} failed: "
                f"{task.status_message or 'no reason given'}",
                task_id=task_id,
            )
        return task


def usual_polls() -> Iterator[float]:
    """The pauses of a client's own wait (`preflight.client`): 1 s, growing to 15 s. A task that
    was created before this receiver started (a resumed job: its callbacks go wherever that run
    sent them) is polled so, and a callback that does come here still wakes it."""
    from preflight.client._core import POLL_GROWTH, POLL_INITIAL, POLL_MAX

    pause = POLL_INITIAL
    while True:
        yield pause
        pause = min(pause * POLL_GROWTH, POLL_MAX)


def _believe(note: Note, provider: Provider, on_note: Callable[..., None]) -> Task:
    """The task a callback speaks of: as sent when signed and final, else as a query finds it."""
    claimed = note.task.status.value
    if note.verified and note.task.is_terminal:
        on_note(f"signed webhook: {claimed}", via="callback", verified=True, status=claimed)
        return note.task
    task = provider.get_task(note.task.id)
    found = task.status.value
    if found == claimed:
        told = "confirmed by a query"
    elif note.task.is_terminal and not task.is_terminal:
        told = f"a query says {found}: not believed"
    else:
        told = f"a query says {found} by now"
    on_note(
        f"callback says {claimed}; {told}",
        via="callback",
        verified=note.verified,
        claimed=claimed,
        status=found,
    )
    return task


def _report(
    task: Task, last: tuple[TaskStatus, str | None] | None, on_update: Callable[[Task], object]
) -> tuple[TaskStatus, str | None]:
    state = (task.status, task.status_message)
    if state != last:
        on_update(task)
    return state


def _check_public_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--public-url must be an http(s) URL, not {_origin(url)!r}")


def _origin(url: str | None) -> str | None:
    """``scheme://host[:port]`` of a URL, with ``/…`` when it had more (a path may hold a token)."""
    if url is None:
        return None
    parts = urlsplit(url)
    more = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{more}"


def listener_for(
    listen: str,
    *,
    public_url: str | None = None,
    providers: tuple[str, ...] = (),
    callback_url: str | None = None,
    wait: bool = True,
    on_event: Callable[[Event], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Listener:
    """The receiver ``submit --listen LISTEN [--public-url URL]`` asks for (not started).

    UsageError for options that do not go together. The WaveSpeed secret is read from
    ``WAVESPEED_WEBHOOK_SECRET``; a WaveSpeed job without it is told its webhooks will be refused.
    """
    if callback_url:
        raise UsageError("--listen sends its own callback URL: give --listen or --callback-url")
    if not wait:
        raise UsageError("--listen waits for callbacks: it does not go with --no-wait")
    env = os.environ if environ is None else environ
    secret = env.get(SECRET_ENV) or None
    host, port = parse_listen(listen)
    listener = Listener(host, port, public_url=public_url, secret=secret, on_event=on_event)
    if "wavespeed" in providers and secret is None:
        listener.on_event(
            Event(
                "listen",
                "info",
                f"{SECRET_ENV} is not set: WaveSpeed's webhooks cannot be verified and are "
                f"refused; jobs finish by polling every {listener.poll_interval:g}s",
                None,
            )
        )
    return listener


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck sender never keeps the process alive
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], listener: Listener
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.listener = listener
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    """One POST: length checked, body read, judged by `Listener.receive`, answered at once."""

    server: _Server
    timeout = READ_TIMEOUT
    server_version = "preflight-listen"
    sys_version = ""

    def do_POST(self) -> None:
        listener = self.server.listener
        refused = self._length_refusal(listener.max_body)
        if refused is not None:
            self._answer(listener.log(refused))
            return
        length = int(self.headers["content-length"])
        raw = self.rfile.read(length)
        if len(raw) < length:
            self._answer(listener.log(Delivery(400, "body shorter than its content-length")))
            return
        self._answer(listener.receive(dict(self.headers.items()), raw))

    def _length_refusal(self, limit: int) -> Delivery | None:
        if self.headers.get("transfer-encoding"):
            return Delivery(411, "chunked bodies are not accepted: send a content-length")
        length = self.headers.get("content-length")
        if length is None:
            return Delivery(411, "no content-length")
        if not length.strip().isdigit():
            return Delivery(400, "bad content-length")
        if int(length) > limit:
            return Delivery(413, f"body over {limit} bytes")
        return None

    def do_GET(self) -> None:
        self._answer(Delivery(405, "POST callbacks here"), allow=True)

    def _answer(self, delivery: Delivery, *, allow: bool = False) -> None:
        body = json.dumps({"ok": delivery.status < 400, "detail": delivery.reason}).encode()
        self.close_connection = True
        self.send_response(delivery.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header("connection", "close")
        if allow:
            self.send_header("allow", "POST")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a request line may carry a token, and the events say what happened."""
