"""`Sandbox`: the app served by uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from preflight.model.errors import ConfigError, PreflightError
from preflight.sandbox._app import build_app
from preflight.sandbox._clock import Clock
from preflight.sandbox._config import Faults, SandboxConfig
from preflight.sandbox._core import Core
from preflight.sandbox._store import SandboxTask

__all__ = ["Sandbox", "loopback_host"]

START_TIMEOUT = 30.0


def loopback_host(host: str) -> str:
    """The address to bind; ConfigError for anything a remote machine could reach."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError as exc:
        raise ConfigError(f"sandbox host must be a loopback address, not {host!r}") from exc
    if not address.is_loopback:
        raise ConfigError(
            f"sandbox host must be a loopback address (127.0.0.1 or ::1), not {host!r}: "
            "the sandbox never accepts connections from other machines"
        )
    return host


class _Server(uvicorn.Server):
    """A uvicorn server that says when it is listening (or that it never will)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exit: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._exit = asyncio.Event()
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()

    async def main_loop(self) -> None:
        """Wait for `exit()` instead of uvicorn's 0.1 s polling: a sandbox stops at once."""
        assert self._exit is not None
        await self._exit.wait()

    def exit(self) -> None:
        """Stop serving (thread-safe)."""
        self.should_exit = True
        if self._loop is not None and self._exit is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._exit.set)


class Sandbox:
    """A loopback Kling + WaveSpeed + fal look-alike for tests, demos and benchmarks.

    ::

        with Sandbox() as sb:
            client = KlingClient(base_url=sb.url, access_key=sb.kling_access_key, ...)
            ...
            sb.settle()              # every task finished
            assert len(sb.tasks()) == 1

    The server binds 127.0.0.1 (or another loopback address) only, on ``port`` (0: a free one).
    Given ``ssl_certfile`` and ``ssl_keyfile`` it serves https (``url`` says which).
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | Path | None = None,
        ssl_certfile: str | Path | None = None,
        ssl_keyfile: str | Path | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        # with a certificate (and its key) the sandbox speaks https, as fal-client insists
        self._ssl = (str(ssl_certfile), str(ssl_keyfile)) if ssl_certfile and ssl_keyfile else None
        self._host = loopback_host(host)
        self._port = port
        self._own_dir = data_dir is None
        self._data_dir = Path(data_dir) if data_dir else None
        self._core: Core | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def __repr__(self) -> str:
        return f"Sandbox(url={self.url!r})"

    # -- keys, as a user sets them ------------------------------------------------------------
    @property
    def kling_access_key(self) -> str:
        return self.config.kling_access_key

    @property
    def kling_secret_key(self) -> str:
        return self.config.kling_secret_key

    @property
    def wavespeed_api_key(self) -> str:
        return self.config.wavespeed_api_key

    @property
    def wavespeed_webhook_secret(self) -> str:
        return self.config.wavespeed_webhook_secret

    @property
    def fal_key(self) -> str:
        return self.config.fal_key

    def environment(self) -> dict[str, str]:
        """The variables a client reads to talk to this sandbox."""
        return {
            "KLING_BASE_URL": self.url,
            "KLING_ACCESS_KEY": self.kling_access_key,
            "KLING_SECRET_KEY": self.kling_secret_key,
            "WAVESPEED_BASE_URL": self.url,
            "WAVESPEED_API_KEY": self.wavespeed_api_key,
            "WAVESPEED_WEBHOOK_SECRET": self.wavespeed_webhook_secret,
            "FAL_BASE_URL": self.url,
            "FAL_KEY": self.fal_key,
        }

    # -- lifetime -----------------------------------------------------------------------------
    def start(self) -> Sandbox:
        if self._thread is not None:
            raise PreflightError("this sandbox is already running")
        if self._data_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix="preflight-sandbox-"))
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError as exc:
            sock.close()
            raise ConfigError(f"cannot listen on {self._host}:{self._port}: {exc}") from exc
        port = sock.getsockname()[1]
        host = f"[{self._host}]" if family == socket.AF_INET6 else self._host
        self.url = f"{'https' if self._ssl else 'http'}://{host}:{port}"
        core = Core(self.config, self._data_dir)
        core.base_url = self.url
        self._core = core
        config = uvicorn.Config(
            build_app(core),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            # idle keep-alive connections stay usable for a minute, like a provider's load
            # balancer; uvicorn's 5 s default races clients that pause between polls
            timeout_keep_alive=60,
            backlog=1024,
            ssl_certfile=self._ssl[0] if self._ssl else None,
            ssl_keyfile=self._ssl[1] if self._ssl else None,
        )
        server = _Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="preflight-sandbox", daemon=True
        )
        self._thread.start()
        if not server.ready.wait(START_TIMEOUT) or not server.started:
            self.stop()
            raise PreflightError("the sandbox server did not start")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.exit()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None
        self._server = None
        if self._own_dir and self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def core(self) -> Core:
        if self._core is None:
            raise PreflightError("the sandbox is not running")
        return self._core

    # -- for tests ----------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        return self.core.clock

    @property
    def faults(self) -> Faults:
        return self.core.faults

    def set_faults(self, faults: Faults | None = None, **changes: Any) -> Faults:
        """Replace the faults (``Faults(...)``, or field changes to the current ones)."""
        import dataclasses

        new = faults if faults is not None else dataclasses.replace(self.core.faults, **changes)
        self.core.set_faults(new)
        return new

    def tasks(self, provider: str | None = None, endpoint: str | None = None) -> list[SandboxTask]:
        """Every task created so far, oldest first (optionally of one provider / endpoint)."""
        core = self.core
        with core.store.lock:
            return core.store.snapshot(
                lambda t: (
                    (provider is None or t.provider == provider)
                    and (endpoint is None or t.endpoint == endpoint)
                )
            )

    def task(self, task_id: str) -> SandboxTask:
        found = [t for t in self.tasks() if t.id == task_id]
        if not found:
            raise KeyError(task_id)
        return found[0]

    @property
    def open_tasks(self) -> int:
        with self.core.store.lock:
            return self.core.store.open

    def callbacks(self) -> list[dict[str, Any]]:
        """Every callback / webhook delivery attempted so far, in order."""
        with self.core.store.lock:
            return list(self.core.store.callbacks)

    def uploads(self) -> list[dict[str, Any]]:
        """Every WaveSpeed upload instruction handed out, oldest first: its served ``name``,
        declared ``size`` and ``content_type``, whether the PUT ``stored`` it, and why PUTs were
        ``refused``."""
        with self.core.store.lock:
            return [
                {
                    "name": t.name,
                    "size": t.size,
                    "content_type": t.content_type,
                    "stored": t.stored,
                    "refused": list(t.refused),
                }
                for t in self.core.store.tickets.values()
            ]

    def wait_for_callbacks(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` deliveries were attempted (no fixed sleeps)."""
        store = self.core.store
        with store.cond:
            if not store.cond.wait_for(lambda: len(store.callbacks) >= count, timeout):
                raise TimeoutError(f"{len(store.callbacks)} of {count} callbacks after {timeout}s")
            return list(store.callbacks)

    def serve_file(self, path: str | Path, name: str | None = None) -> str:
        """Serve a local file from this sandbox; its URL (a video_url for a create)."""
        source = Path(path)
        if not source.is_file():
            raise FileNotFoundError(str(source))
        import uuid

        return self.core.serve(f"local/{uuid.uuid4().hex[:12]}/{name or source.name}", source)

    def advance(self, seconds: float, timeout: float = 30.0) -> None:
        """Move the sandbox clock on and return once every transition now due has happened."""
        core = self.core
        core.clock.advance(seconds)
        core.wake()
        with core.store.cond:
            if not core.store.cond.wait_for(lambda: not core.due_pending(), timeout):
                raise TimeoutError(f"tasks did not move on within {timeout}s")

    def settle(self, timeout: float = 30.0) -> list[SandboxTask]:
        """Run every open task to its end (moving the clock as needed); all tasks afterwards."""
        core = self.core
        deadline = time.monotonic() + timeout
        with core.store.cond:
            while core.store.open:
                nxt = core.next_deadline()
                now = core.clock.now()
                if nxt is not None and nxt > now and core.clock.manual:
                    core.clock.advance(nxt - now)
                    core.wake()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{core.store.open} tasks still open after {timeout}s")
                core.store.cond.wait(min(remaining, 0.5))
        return self.tasks()
