"""Kling's API token: a short-lived JWT signed with the secret key, cached and renewed early."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable

import jwt
import jwt.warnings

__all__ = ["TOKEN_LIFETIME", "KlingAuth"]

TOKEN_LIFETIME = 1800  # seconds: `exp` = now + 1800 (Kling's documented value)
NOT_BEFORE_SKEW = 5  # seconds: `nbf` = now - 5, so a slightly slow server clock still accepts it
RENEW_MARGIN = 300  # seconds: a cached token is replaced this long before it expires


class KlingAuth:
    """Issues ``Authorization`` values for one access/secret key pair.

    The token is reused until ``RENEW_MARGIN`` seconds before its ``exp`` (by ``clock``, epoch
    seconds), then replaced; :meth:`invalidate` forces the next call to sign a new one (after a
    1004 "token expired" answer). Thread-safe, and never shows a key or a token in its repr.
    """

    __slots__ = ("_access_key", "_clock", "_expires", "_lock", "_secret_key", "_token")

    def __init__(
        self, access_key: str, secret_key: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._clock = clock
        self._token: str | None = None
        self._expires = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "KlingAuth(access_key=<redacted>, secret_key=<redacted>)"

    def token(self) -> str:
        """A valid token, signed anew when none is cached or the cached one nears ``exp``."""
        with self._lock:
            now = int(self._clock())
            if self._token is None or now >= self._expires - RENEW_MARGIN:
                self._expires = now + TOKEN_LIFETIME
                claims = {
                    "iss": self._access_key,
                    "exp": self._expires,
                    "nbf": now - NOT_BEFORE_SKEW,
                }
                with warnings.catch_warnings():
                    # the key's length is the provider's choice, not something a user can fix
                    warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
                    self._token = jwt.encode(
                        claims,
                        self._secret_key,
                        algorithm="HS256",
                        headers={"alg": "HS256", "typ": "JWT"},
                    )
            return self._token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def invalidate(self) -> None:
        """Forget the cached token (the provider said it expired)."""
        with self._lock:
            self._token = None

    def secrets(self) -> tuple[str, ...]:
        """What must never be shown: the keys and the current token (for redaction)."""
        return tuple(s for s in (self._access_key, self._secret_key, self._token) if s)
