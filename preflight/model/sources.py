"""Inputs are local paths or ``http(s)://`` URLs; this is the one test of which is which."""

from __future__ import annotations

import os

__all__ = ["is_url"]


def is_url(source: str | os.PathLike[str] | None) -> bool:
    """True for ``http://`` and ``https://`` inputs (any case), False for paths and None."""
    return source is not None and os.fspath(source).lower().startswith(("http://", "https://"))
