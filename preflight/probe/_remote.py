"""Remote inputs (``http(s)://``)."""

from __future__ import annotations

from preflight.errors import InputError
from preflight.facts import MediaFacts

__all__ = ["is_url", "probe_url"]


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def probe_url(url: str, *, backend: str) -> MediaFacts:
    raise InputError("URL inputs are not supported yet", source=url)
