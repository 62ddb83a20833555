"""Issue 10, item 7: an empty webhook secret is refused, never used as an empty HMAC key.

Before the fix ``verify_webhook(headers, body, "whsec_")`` keyed the HMAC with b"" and accepted
a signature anyone can compute; now every secret without a key raises ConfigError.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from preflight.client import verify_webhook
from preflight.model.errors import ConfigError

NOW = 1_700_000_000
BODY = b'{"id": "p1", "status": "completed"}'


def signed_with(key: bytes) -> dict[str, str]:
    digest = hmac.new(key, f"m1.{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    return {"webhook-id": "m1", "webhook-timestamp": str(NOW), "webhook-signature": f"v3,{digest}"}


@pytest.mark.parametrize("secret", ["whsec_", "", "whsec_  ", "   "])
def test_empty_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ConfigError, match="webhook secret is empty"):
        verify_webhook(signed_with(b""), BODY, secret, now=NOW)


def test_a_real_secret_still_verifies() -> None:
    headers = signed_with(b"k3y")
    assert verify_webhook(headers, BODY, "whsec_k3y", now=NOW)
    assert not verify_webhook(signed_with(b""), BODY, "whsec_k3y", now=NOW)


def test_the_refusal_never_shows_the_secret() -> None:
    with pytest.raises(ConfigError) as caught:
        verify_webhook(signed_with(b""), BODY, "whsec_ ", now=NOW)
    assert "whsec_ " not in str(caught.value)
