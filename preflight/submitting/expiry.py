"""When a job's result link stops working, and what to say about it.

Providers delete results after a documented time (Kling: 30 days, KL-EN); the retention is data in
the provider's registry entry (``result_days``) and the ledger records, per job, when its link
expires (``result_expires``, counted from the task's creation so it is never later than the
provider's). `preflight jobs` and `preflight resume` warn within `WARN_DAYS` of it and say
plainly once it has passed, pointing at the downloaded file when there is one.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from preflight.submitting.ledger import JobRecord

__all__ = ["WARN_DAYS", "LinkState", "link_state"]

WARN_DAYS = 3.0
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class LinkState:
    """``state`` is ``expiring`` or ``expired``; ``message`` says what it means for the user."""

    state: str
    message: str
    expires: float

    def to_dict(self) -> dict[str, object]:
        return {"state": self.state, "message": self.message, "expires": self.expires}


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))


def _left(seconds: float) -> str:
    if seconds >= DAY:
        days = seconds / DAY
        return f"{days:.0f} day{'s' if round(days) != 1 else ''}"
    hours = max(seconds / 3600.0, 0.0)
    return f"{hours:.0f} hour{'s' if round(hours) != 1 else ''}"


def link_state(record: JobRecord, now: float | None = None) -> LinkState | None:
    """What to tell the user about ``record``'s result link, or None (nothing to say: no
    documented expiry, no link, or more than `WARN_DAYS` left)."""
    expires = record.result_expires
    if expires is None or not record.result_url:
        return None
    now = time.time() if now is None else now
    local = (
        record.result_path if record.result_path and os.path.isfile(record.result_path) else None
    )
    if now >= expires:
        if local:
            then = f"the downloaded file is still at {local}"
        else:
            then = (
                "the result was not kept locally and the provider deletes it after its retention "
                "time: `preflight submit ... --new` makes it again (a new, paid task)"
            )
        return LinkState(
            "expired",
            f"result link expired on {_when(expires)} (provider retention); {then}",
            expires,
        )
    if expires - now > WARN_DAYS * DAY or local:
        return None
    return LinkState(
        "expiring",
        f"result link expires in {_left(expires - now)} ({_when(expires)}): "
        f"download it before then (`preflight resume {record.job_id}`)",
        expires,
    )
