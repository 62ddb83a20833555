"""httpx's request log without the secrets in URLs.

httpx logs every request at INFO (``HTTP Request: PUT https://...``) on the ``httpx`` logger,
which any program that turns logging on at INFO prints. preflight's URLs carry secrets in their
query and user info: presigned S3 and upload URLs (``X-Amz-Signature``), the result links a
provider signs, an input URL a user gave with a token in it. `hide_url_secrets` puts a filter on
that logger which writes such a URL with its query values and its user info replaced by ``***``
(the names stay: ``?X-Amz-Signature=***``), so the log still says which request it was. It is
installed once, by every module of preflight that sends requests, and touches nothing else:
httpx's other log lines, and other loggers, pass through as they were.
"""

from __future__ import annotations

import logging

import httpx

__all__ = ["hide_url_secrets", "redacted_url"]

HIDDEN = "***"


def redacted_url(url: httpx.URL) -> str:
    """``url`` with its user info and every query value as ``***`` (the query's names kept)."""
    if not url.query and not url.userinfo:
        return str(url)
    names = [name for name, _ in url.params.multi_items()]
    bare = url.copy_with(query=None, fragment=None, username=None, password=None)
    text = str(bare)
    if url.userinfo:
        text = text.replace("://", f"://{HIDDEN}@", 1)
    if names:
        text += "?" + "&".join(f"{name}={HIDDEN}" for name in names)
    return text


class _HideURLSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, httpx.URL) for a in args):
            record.args = tuple(redacted_url(a) if isinstance(a, httpx.URL) else a for a in args)
        return True


def hide_url_secrets() -> None:
    """Install the filter on the ``httpx`` logger (once; calling again does nothing)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _HideURLSecrets) for f in logger.filters):
        logger.addFilter(_HideURLSecrets())
