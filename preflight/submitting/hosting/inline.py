"""Audio inlined as raw base64 (no ``data:`` prefix) for Kling's ``audio_file``."""

from __future__ import annotations

import base64
import os

from preflight.model.errors import HostingError

__all__ = ["MAX_INLINE_BYTES", "inline_base64"]

# Kling's audio limit (5 MB, read as 5 * 1024 * 1024 bytes); the check enforces the profile's
# exact figure before this point, this is only a guard against inlining something huge
MAX_INLINE_BYTES = 5 * 1024 * 1024


def inline_base64(path: str | os.PathLike[str], *, max_bytes: int = MAX_INLINE_BYTES) -> str:
    """The file's bytes as raw base64 text. Raises HostingError when unreadable or too big."""
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            raise HostingError(
                f"{os.fspath(path)!r} is {size} bytes; at most {max_bytes} can be sent inline"
            )
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise HostingError(f"cannot read {os.fspath(path)!r}: {exc.strerror}") from exc
    return base64.b64encode(data).decode("ascii")
