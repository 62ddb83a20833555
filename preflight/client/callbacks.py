"""Callbacks and webhooks: read them into a :class:`~preflight.client.models.Task`, check them.

Kling POSTs the bare task object to ``callback_url`` on every status change, unsigned: treat a
callback as a hint and confirm it by querying the task (``client.get_lip_sync(task.id)``) before
acting on it. WaveSpeed signs its webhooks; :func:`verify_webhook` checks the v3 signature::

    webhook-signature: v3,<hex HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{raw body}">

keyed with the secret minus its ``whsec_`` prefix (used as text), and refuses a timestamp more
than 300 s away from now. An empty secret (``""`` or a bare ``"whsec_"``) would be an empty HMAC
key, which anyone can sign with: it raises ``ConfigError`` instead of checking anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from preflight.client.models import Task, TaskKind, TaskStatus, Video
from preflight.model.errors import ConfigError, InvalidRequestError

__all__ = ["WEBHOOK_TOLERANCE", "parse_callback", "verify_webhook"]

WEBHOOK_TOLERANCE = 300  # seconds
SIGNATURE_VERSION = "v3"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def parse_callback(
    body: bytes | str | Mapping[str, Any], *, kind: TaskKind = TaskKind.LIP_SYNC
) -> Task:
    """A callback body (raw bytes, text or decoded JSON) as a Task; the provider is detected.

    Kling's bodies carry ``task_id``/``task_status`` (``kind`` says which endpoint they belong
    to); WaveSpeed's carry ``id``/``status``, bare or inside the usual ``data`` envelope; fal's
    carry ``request_id`` and ``status`` ``OK``/``ERROR``.
    """
    if isinstance(body, Mapping):
        obj: Any = body
    else:
        try:
            obj = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidRequestError(f"callback body is not JSON: {exc}") from exc
    if not isinstance(obj, Mapping):
        raise InvalidRequestError("callback body is not a JSON object")
    if "task_id" not in obj and "id" not in obj and isinstance(obj.get("data"), Mapping):
        obj = obj["data"]
    if "task_id" in obj:
        return Task.from_kling(obj, kind)
    if "id" in obj and "status" in obj:
        return Task.from_wavespeed(obj)
    if "request_id" in obj and obj.get("status") in _FAL_DONE:
        return _fal_webhook(obj)
    raise InvalidRequestError(
        "callback body is neither a Kling task, a WaveSpeed prediction nor a fal webhook"
    )


_FAL_DONE = {"OK": TaskStatus.SUCCEEDED, "ERROR": TaskStatus.FAILED}


def _fal_webhook(obj: Mapping[str, Any]) -> Task:
    """fal's webhook (``{request_id, status: OK|ERROR, payload, error}``), sent once it is done.
    Not verified here (fal signs with ED25519 keys it publishes): confirm it by a query."""
    payload = obj.get("payload")
    video = payload.get("video") if isinstance(payload, Mapping) else None
    url = video.get("url") if isinstance(video, Mapping) else None
    error = obj.get("error")
    return Task(
        id=str(obj["request_id"]),
        status=_FAL_DONE[str(obj["status"])],
        provider="fal",
        kind=TaskKind.FAL,
        status_message=str(error) if error else None,
        videos=(Video(url=str(url)),) if url else (),
        raw=dict(obj),
    )


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes | str,
    secret: str,
    *,
    tolerance: float = WEBHOOK_TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when a WaveSpeed webhook is signed with ``secret`` and recent; False otherwise.

    ``body`` must be the raw request body, byte for byte. Compared in constant time.
    Raises ConfigError when ``secret`` holds no key (empty, or only the ``whsec_`` prefix).
    """
    key = secret.removeprefix(SECRET_PREFIX).encode() if isinstance(secret, str) else b""
    if not key.strip():
        raise ConfigError(
            "the webhook secret is empty: set it to the signing secret WaveSpeed shows for "
            "your webhooks (whsec_...); an empty key would accept anyone's signature"
        )
    lowered = {k.lower(): v for k, v in headers.items()}
    webhook_id = lowered.get("webhook-id")
    timestamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not webhook_id or not timestamp or not signatures:
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    raw = body.encode() if isinstance(body, str) else bytes(body)
    signed = f"{webhook_id}.{timestamp}.".encode() + raw
    expected = hmac.new(key, signed, hashlib.sha256).hexdigest()
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == SIGNATURE_VERSION and hmac.compare_digest(
            value.strip().encode(), expected.encode()
        ):
            return True
    return False
