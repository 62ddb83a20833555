"""What a sandbox is configured with: keys, task timing, and the faults it injects."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from preflight.sandbox._body import JSON_MAX_BYTES
from preflight.sandbox._limits import UPLOAD

__all__ = ["Faults", "SandboxConfig"]


@dataclass(frozen=True, slots=True)
class Faults:
    """Provider misbehaviour to inject. 0 / None means "never".

    "Every Nth" counts create requests (both providers, every endpoint that starts a task) from the
    moment these faults were set: with ``concurrency_every=3`` the 3rd, 6th, 9th ... create
    answers 1303. ``max_open_tasks`` answers 1303 to a create while that many tasks are already
    open (submitted or processing): a resource pack with that many slots.
    """

    concurrency_every: int = 0  # 1303 (HTTP 429), no task created
    max_open_tasks: int | None = None  # 1303 while this many tasks are open
    rate_limit_every: int = 0  # 1302 (HTTP 429), no task created
    billing_every: int = 0  # 1102 resource pack used up (HTTP 429), no task created
    server_error_after_create_every: int = 0  # task created, then 5000 (HTTP 500): ambiguous
    drop_after_create_every: int = 0  # task created, then the socket closed with no response
    delay_ms: int = 0  # every provider response is this late
    fail_every: int = 0  # every Nth created task ends `failed`
    fail_message: str = "Lip-sync failed: there is no human in the video"
    expire_next_tokens: int = 0  # the next N authenticated Kling requests answer 1004


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """How a sandbox behaves. Keys are random per sandbox unless given.

    Task timing is in sandbox-clock seconds: a task stays ``submitted`` for ``submitted_seconds``,
    then ``processing`` for at least ``processing_seconds`` (and until its result video is made).
    ``clock_scale`` is how fast the sandbox clock runs against real time; 0 freezes it, so only
    ``Sandbox.advance()`` / ``Sandbox.settle()`` move tasks on.
    """

    kling_access_key: str = field(default_factory=lambda: "ak_" + secrets.token_hex(8))
    kling_secret_key: str = field(default_factory=lambda: "sk_" + secrets.token_hex(16))
    wavespeed_api_key: str = field(default_factory=lambda: "ws_" + secrets.token_hex(16))
    wavespeed_webhook_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(16))
    fal_key: str = field(default_factory=lambda: "fal_" + secrets.token_hex(16))
    submitted_seconds: float = 0.05
    processing_seconds: float = 0.1
    clock_scale: float = 1.0
    faults: Faults = field(default_factory=Faults)
    jwt_leeway_seconds: float = 0.0
    json_max_bytes: int = JSON_MAX_BYTES  # JSON bodies above this answer 413, unread
    fetch_timeout_seconds: float = 30.0  # per read of a media fetch
    fetch_deadline_seconds: float = 60.0  # the whole media fetch, however slowly bytes arrive
    upload_max_bytes: int = UPLOAD.max_bytes  # binary uploads above this answer 413
    wavespeed_upload_tickets: bool = True  # POST /api/v3/media/uploads; False: 404, an older host
    upload_ticket_seconds: float = 900.0  # how long an upload's PUT URL stays valid (clock s)
    callback_timeout_seconds: float = 5.0
    webhook_attempts: int = 3  # WaveSpeed retries a webhook up to 3 times
    webhook_retry_seconds: float = 0.2
    validate_media: bool = True  # fetch and probe media at create (the provider does)

    def __repr__(self) -> str:  # keys never reach a log or a traceback
        return (
            f"SandboxConfig(submitted_seconds={self.submitted_seconds}, "
            f"processing_seconds={self.processing_seconds}, clock_scale={self.clock_scale}, "
            f"faults={self.faults!r})"
        )
