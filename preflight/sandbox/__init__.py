"""A loopback server that behaves like Kling's API and WaveSpeedAI, for tests and demos.

It speaks both providers' documented wire formats (``provider-notes.md``): Kling JWTs checked
against the sandbox's keys, request bodies checked against the documented limits (media is
fetched and probed), tasks that go ``submitted`` -> ``processing`` -> ``succeed``/``failed`` on a
controllable clock with a real result video, callbacks and signed webhooks, and injected faults.
It binds loopback addresses only.
"""

from __future__ import annotations

from preflight.sandbox._auth import sign_webhook
from preflight.sandbox._clock import Clock
from preflight.sandbox._config import Faults, SandboxConfig
from preflight.sandbox._server import Sandbox
from preflight.sandbox._store import SandboxTask

__all__ = ["Clock", "Faults", "Sandbox", "SandboxConfig", "SandboxTask", "sign_webhook"]
