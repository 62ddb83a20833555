"""Credential checks: Kling's JWT (codes 1000-1004) and WaveSpeed's bearer key."""

from __future__ import annotations

import hmac
import time

import jwt

__all__ = ["AuthFailure", "check_kling_token", "check_wavespeed_key", "sign_webhook"]


class AuthFailure(Exception):
    """A request's credentials were refused; ``code`` is Kling's business code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def check_kling_token(
    header: str | None,
    *,
    access_key: str,
    secret_key: str,
    now: float | None = None,
    leeway: float = 0.0,
) -> None:
    """Raise AuthFailure unless ``header`` carries a JWT that Kling would take.

    1001: no Authorization header; 1002: not a bearer JWT, or a bad signature; 1000: signed by an
    access key we do not know; 1003: ``nbf`` still in the future; 1004: ``exp`` passed.
    """
    if not header or not header.strip():
        raise AuthFailure(1001, "Authorization is empty")
    token = _bearer(header)
    if token is None:
        raise AuthFailure(1002, "Authorization is invalid: expected 'Bearer <token>'")
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise AuthFailure(1002, "Authorization is invalid: not a JWT") from exc
    if not hmac.compare_digest(str(unverified.get("iss", "")), access_key):
        raise AuthFailure(1000, "Authentication failed: unknown access key")
    try:
        _decode_at(token, secret_key, time.time() if now is None else now, leeway)
    except jwt.ImmatureSignatureError as exc:
        raise AuthFailure(1003, "Authorization is not yet valid (nbf is in the future)") from exc
    except jwt.ExpiredSignatureError as exc:
        raise AuthFailure(1004, "Authorization has expired") from exc
    except jwt.PyJWTError as exc:
        raise AuthFailure(1002, "Authorization is invalid: signature or claims refused") from exc


def _decode_at(token: str, secret_key: str, now: float, leeway: float) -> None:
    """Verify the signature with pyjwt, then the time claims against ``now``."""
    claims = jwt.decode(
        token,
        secret_key,
        algorithms=["HS256"],
        options={"require": ["iss", "exp"], "verify_exp": False, "verify_nbf": False},
    )
    try:
        exp = float(claims["exp"])
        nbf = float(claims.get("nbf", now))
    except (TypeError, ValueError) as exc:
        raise jwt.InvalidTokenError("exp/nbf must be numbers") from exc
    if nbf > now + leeway:
        raise jwt.ImmatureSignatureError("nbf in the future")
    if exp <= now - leeway:
        raise jwt.ExpiredSignatureError("expired")


def check_wavespeed_key(header: str | None, *, api_key: str) -> bool:
    token = _bearer(header)
    return token is not None and hmac.compare_digest(token, api_key)


def sign_webhook(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """WaveSpeed's v3 signature header value: ``v3,<hex HMAC-SHA256>``.

    The key is the secret minus its ``whsec_`` prefix, used as text; the message is
    ``"{id}.{timestamp}.{raw body}"``.
    """
    key = secret.removeprefix("whsec_").encode()
    message = f"{webhook_id}.{timestamp}.".encode() + body
    return "v3," + hmac.new(key, message, "sha256").hexdigest()
