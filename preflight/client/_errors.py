"""Provider business codes -> the exception classes of `preflight.model.errors`.

Kling and WaveSpeed answer with a business ``code`` inside a JSON envelope; the HTTP status alone
does not say what happened (Kling's 429 covers billing, rate, concurrency and IP policy). The
class is chosen from the code first and from the HTTP status only when the code is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from preflight.model.errors import (
    AccountError,
    APIError,
    AuthenticationError,
    ConcurrencyLimitError,
    ContentPolicyError,
    InvalidRequestError,
    RateLimitError,
    ServerError,
    TaskFailedError,
)

__all__ = ["KLING_CODES", "WAVESPEED_CODES", "error_class", "error_from_envelope"]

KLING_CODES: Mapping[int, type[APIError]] = {
    1000: AuthenticationError,  # authentication failed
    1001: AuthenticationError,  # Authorization header empty
    1002: AuthenticationError,  # token invalid
    1003: AuthenticationError,  # token not yet valid (nbf; clock skew)
    1004: AuthenticationError,  # token expired
    1100: AccountError,  # account exception
    1101: AccountError,  # arrears
    1102: AccountError,  # resource pack used up
    1103: AccountError,  # no access to this API or model
    1200: InvalidRequestError,
    1201: InvalidRequestError,  # invalid parameter
    1202: InvalidRequestError,  # method invalid
    1203: InvalidRequestError,  # resource does not exist
    1300: ContentPolicyError,  # platform policy
    1301: ContentPolicyError,  # content safety
    1302: RateLimitError,  # too fast
    1303: ConcurrencyLimitError,  # more tasks open than the resource pack allows
    1304: RateLimitError,  # IP whitelist policy
    5000: ServerError,
    5001: ServerError,  # unavailable / maintenance
    5002: ServerError,  # internal timeout / backlog
}

WAVESPEED_CODES: Mapping[int, type[APIError]] = {
    1200: ContentPolicyError,  # moderation
    1400: InvalidRequestError,  # missing parameter
    1401: InvalidRequestError,  # invalid parameter
    1402: InvalidRequestError,  # media not reachable
    1403: TaskFailedError,
    1405: TaskFailedError,
    5000: ServerError,
    5003: ServerError,
    5004: ServerError,
}

_TABLES: Mapping[str, Mapping[int, type[APIError]]] = {
    "kling": KLING_CODES,
    "wavespeed": WAVESPEED_CODES,
}
_NAMES: Mapping[str, str] = {"kling": "Kling", "wavespeed": "WaveSpeed"}

_BY_HTTP_STATUS: Mapping[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: AccountError,
    403: AccountError,
    404: InvalidRequestError,
    405: InvalidRequestError,
    409: InvalidRequestError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
}


def error_class(provider: str, code: int | None, http_status: int | None) -> type[APIError]:
    """The class for a business ``code`` (first) or an HTTP status (when the code is unknown)."""
    table = _TABLES.get(provider, {})
    if code is not None and code in table:
        return table[code]
    if http_status is not None:
        if http_status >= 500:
            return ServerError
        if http_status in _BY_HTTP_STATUS:
            return _BY_HTTP_STATUS[http_status]
    return APIError


def error_from_envelope(
    provider: str, http_status: int | None, envelope: Mapping[str, Any] | None, *, fallback: str
) -> APIError:
    """Build the error for an answer; ``envelope`` is the decoded JSON body when there was one."""
    envelope = envelope or {}
    code = _int_or_none(envelope.get("code"))
    if provider == "wavespeed" and code is not None and code == http_status:
        code = None  # WaveSpeed echoes the HTTP status as `code` on transport-level errors
    message = envelope.get("message") or envelope.get("msg") or envelope.get("error") or fallback
    request_id = envelope.get("request_id") or envelope.get("requestId")
    cls = error_class(provider, code, http_status)
    name = _NAMES.get(provider, provider)
    return cls(
        f"{name}: {message}",
        code=code,
        http_status=http_status,
        request_id=str(request_id) if request_id else None,
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
