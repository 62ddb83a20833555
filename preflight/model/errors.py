"""Every error preflight raises, as one tree.

::

    PreflightError                  anything preflight raises on purpose
    ├── ConfigError                 a bad profile, config file or option (CLI exit 2)
    │   └── MissingKeyError         a provider's keys are not given (names the env variables)
    ├── InputError                  an input that cannot be read as media (finding `input.readable`)
    │   └── ProbeError              the probe backend could not read it
    ├── ToolNotFoundError           FFmpeg / ffprobe is not available
    ├── FFmpegError                 an FFmpeg run failed: carries argv and the tail of stderr
    │   └── FFmpegTimeoutError
    ├── FixError                    an input that cannot be made compliant
    ├── LedgerError                 the job ledger cannot be read or written
    ├── HostingError                local media could not be given a URL
    └── APIError                    a provider answered with an error, or could not be reached
        ├── AuthenticationError     401, codes 1000-1004 (Kling); a bad or missing key
        ├── AccountError            arrears, resource pack used up, no access (1100-1103)
        ├── InvalidRequestError     1200-1203, WaveSpeed 1400/1401/1402
        ├── ContentPolicyError      1300/1301, WaveSpeed 1200
        ├── RateLimitError          1302, IP policy 1304, HTTP 429 without a known code
        │   └── ConcurrencyLimitError   1303
        ├── ServerError             5000-5004
        ├── APIConnectionError      nothing usable came back (refused, reset, dropped)
        │   └── APITimeoutError
        └── TaskFailedError         the task ended in `failed`

Library errors (httpx, sqlite3, subprocess, pymediainfo) are translated at the boundary with
``raise ... from exc``. No message, repr or ``str()`` of these ever contains a secret: clients
pass only redacted material in.
"""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AccountError",
    "AuthenticationError",
    "ConcurrencyLimitError",
    "ConfigError",
    "ContentPolicyError",
    "FFmpegError",
    "FFmpegTimeoutError",
    "FixError",
    "HostingError",
    "InputError",
    "InvalidRequestError",
    "LedgerError",
    "MissingKeyError",
    "PreflightError",
    "ProbeError",
    "RateLimitError",
    "ServerError",
    "TaskFailedError",
    "ToolNotFoundError",
]


class PreflightError(Exception):
    """Base of every error preflight raises on purpose."""


class ConfigError(PreflightError):
    """A profile, config file or option is invalid. The message names the file, rule and key."""


class MissingKeyError(ConfigError):
    """A provider client was made without its keys. ``env`` names the environment variables
    that hold them, so the CLI can say what to set (its users pass no library arguments)."""

    def __init__(self, message: str, *, provider: str, env: tuple[str, ...]) -> None:
        super().__init__(message)
        self.provider = provider
        self.env = env


class InputError(PreflightError):
    """An input cannot be read as media (missing, empty, not media, truncated, no permission)."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class ProbeError(InputError):
    """The probe backend failed on an input."""


class ToolNotFoundError(PreflightError):
    """A required external tool (FFmpeg, ffprobe) is not available."""


class FFmpegError(PreflightError):
    """An FFmpeg run failed. ``argv`` is the command; ``stderr_tail`` the last lines it printed."""

    def __init__(
        self, message: str, *, argv: list[str] | None = None, stderr_tail: str = ""
    ) -> None:
        super().__init__(message)
        self.argv = list(argv or [])
        self.stderr_tail = stderr_tail

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n{self.stderr_tail}" if self.stderr_tail else base


class FFmpegTimeoutError(FFmpegError):
    """An FFmpeg run exceeded its time limit and was killed."""


class FixError(PreflightError):
    """An input cannot be made compliant; the message says why."""


class LedgerError(PreflightError):
    """The job ledger could not be read or written."""


class HostingError(PreflightError):
    """Local media could not be uploaded or given a URL."""


class APIError(PreflightError):
    """A provider error. ``code`` is the provider's business code, not the HTTP status."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts) if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, code={self.code!r}, "
            f"http_status={self.http_status!r}, request_id={self.request_id!r})"
        )


class AuthenticationError(APIError):
    """The credentials were refused (Kling 1000-1004, WaveSpeed 401)."""


class AccountError(APIError):
    """Account problem: exception, arrears, resource pack used up, no access (Kling 1100-1103)."""


class InvalidRequestError(APIError):
    """The request was invalid (Kling 1200-1203, WaveSpeed 1400-1402)."""


class ContentPolicyError(APIError):
    """The content was refused by policy or moderation (Kling 1300/1301, WaveSpeed 1200)."""


class RateLimitError(APIError):
    """Too many requests (Kling 1302, 1304; HTTP 429 without a known code)."""


class ConcurrencyLimitError(RateLimitError):
    """Too many tasks running at once for the resource pack (Kling 1303)."""


class ServerError(APIError):
    """The provider failed (Kling 5000-5002, WaveSpeed 5000/5003/5004, HTTP 5xx)."""


class APIConnectionError(APIError):
    """The provider could not be reached, or the connection broke before an answer."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class TaskFailedError(APIError):
    """The task ended as failed; ``task_id`` names it, the message is the provider's reason."""

    def __init__(self, message: str, *, task_id: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.task_id = task_id
