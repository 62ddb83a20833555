"""A headless Chromium driven over the DevTools protocol, for tests of the HTML report.

Debian's ``chromium`` package (``.ci/run`` installs it when missing) started with no network
features, a throwaway profile and ``--remote-debugging-port=0``; the port is read from the line
Chromium prints on stderr, the page is driven with ``websocket-client``. Every console message,
uncaught exception and log entry (a CSP violation is one) is collected, so a test can assert that
a page loads cleanly.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websocket

__all__ = ["Page", "chromium_binary", "open_page"]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
TIMEOUT = 60.0  # seconds for any one answer from the browser (a loaded, shared machine)


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Page:
    """One tab: send commands, read what the page said on its console."""

    ws: websocket.WebSocket
    problems: list[str] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def _note(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            args = " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            self.problems.append(f"console.{params['type']}: {args}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.problems.append(f"exception: {details.get('exception', details)}")
        elif method == "Log.entryAdded":
            entry = params["entry"]
            self.problems.append(f"log {entry['level']}: {entry['text']}")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command and return its result (events meanwhile are noted)."""
        number = next(self._ids)
        self.ws.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})  # type: ignore[no-any-return]
            self._note(message)

    def wait_for(self, event: str) -> None:
        while True:
            message = json.loads(self.ws.recv())
            self._note(message)
            if message.get("method") == event:
                return

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, width: int = 1280, height: int = 1400) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))


@contextlib.contextmanager
def open_page(url: str) -> Iterator[Page]:
    """Chromium showing ``url`` once its load event fired; stopped (and its profile removed)
    on exit."""
    binary = chromium_binary()
    assert binary is not None
    with tempfile.TemporaryDirectory(prefix="preflight-chromium-") as profile:
        proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        drain: threading.Thread | None = None
        try:
            assert proc.stderr is not None
            port = None
            for line in proc.stderr:  # "DevTools listening on ws://127.0.0.1:PORT/devtools/..."
                found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
                if found:
                    port = int(found.group(1))
                    break
            assert port is not None, "chromium did not start its DevTools endpoint"
            # keep reading its chatter (D-Bus complaints...) so a full pipe never blocks it
            drain = threading.Thread(target=proc.stderr.read, daemon=True)
            drain.start()
            tabs = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=TIMEOUT).json()
            target = next(t for t in tabs if t["type"] == "page")
            ws = websocket.create_connection(
                target["webSocketDebuggerUrl"], timeout=TIMEOUT, suppress_origin=True
            )
            try:
                page = Page(ws)
                for domain in ("Page", "Runtime", "Log"):
                    page.send(f"{domain}.enable")
                page.send("Page.navigate", url=url)
                page.wait_for("Page.loadEventFired")
                yield page
            finally:
                ws.close()
        finally:
            proc.kill()
            proc.wait()
            if drain is not None:
                drain.join(TIMEOUT)
            if proc.stderr is not None:
                proc.stderr.close()
