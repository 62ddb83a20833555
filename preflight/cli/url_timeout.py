"""``--url-timeout``: the one option every command that fetches URL inputs shares.

The value travels as ``$PREFLIGHT_URL_TIMEOUT`` for the duration of the command, so every fetch
it starts (probes on worker threads, downloads of URL inputs) reads the same deadline without a
parameter threaded through each stage; the variable is restored when the command ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["apply_url_timeout", "url_timeout_option"]

F = TypeVar("F", bound=Callable[..., Any])


def url_timeout_option(func: F) -> F:
    return click.option(
        "--url-timeout",
        type=click.FloatRange(min=0, min_open=True),
        envvar="PREFLIGHT_URL_TIMEOUT",
        metavar="SECONDS",
        help="Give up on fetching a URL input after this long in all [default: 60].",
    )(func)


def apply_url_timeout(seconds: float | None) -> None:
    """Make ``seconds`` the deadline of every URL fetch until the current command ends."""
    from preflight.probing._remote import url_timeout_set

    click.get_current_context().with_resource(url_timeout_set(seconds))
