"""A job's states and the moves between them: the submit pipeline as a table.

Every status the ledger writes goes through :func:`check_transition`, so a step that tries a move
the table does not list (say ``pending`` straight to ``creating``, skipping the check and the
hosting) raises `IllegalTransitionError` instead of quietly writing it. The table reads in the
order a job lives::

    pending ─► checked ─► hosted ─► creating ─► submitted ─► processing ─► succeeded ─► done
       │          │ ▲        │          │  ▲           │            │
       │          ▼ │        │          │  └ hosted (429: nothing started; try again)
       │        fixed ───────┘          └─► failed (the provider refused the create)
       ├─► rejected   (inputs fail the profile; free to judge again)
       └─► blocked    (stopped by configuration: an action is needed, then `resume`)

A job not yet holding a task (``pending`` … ``hosted``, ``creating`` after a reconcile that found
nothing, ``rejected``, ``blocked``) is judged again from the top on a re-run, so each of those may
go back to ``checked``/``fixed``/``rejected``/``blocked``. ``cancelled`` is reachable from every
state but ``done`` and is final; ``done`` may go back to ``succeeded`` when the downloaded file went
away and the result URL is fetched again.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from preflight.model.errors import LedgerError

__all__ = [
    "ACTIONABLE",
    "TERMINAL",
    "TRANSITIONS",
    "IllegalTransitionError",
    "JobStatus",
    "check_transition",
]


class JobStatus(enum.StrEnum):
    """Where a job stands. ``done``, ``failed`` and ``cancelled`` are final; ``rejected`` ends a
    run, and running the same job again judges it afresh."""

    PENDING = "pending"  # row written, nothing done yet
    CHECKED = "checked"  # inputs passed the profile
    REJECTED = "rejected"  # inputs failed the profile and were not (or could not be) fixed
    BLOCKED = "blocked"  # stopped by configuration (e.g. no way to host a file): needs an action
    FIXED = "fixed"  # failing inputs were fixed into new files
    HOSTED = "hosted"  # local media has URLs (or inline data)
    CREATING = "creating"  # the create call is being sent; no task id yet
    SUBMITTED = "submitted"  # the provider answered with a task id
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"  # the task succeeded; the result is not downloaded yet
    DONE = "done"  # the result is at ``result_path``
    FAILED = "failed"  # the provider refused the create or the task failed
    CANCELLED = "cancelled"  # `preflight jobs cancel`: not to be resumed


S = JobStatus

# judged again from the top: where a job without a task may go when a run (re)starts its check
_JUDGE = frozenset({S.CHECKED, S.FIXED, S.REJECTED, S.BLOCKED})

TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    S.PENDING: _JUDGE,
    S.CHECKED: _JUDGE | {S.HOSTED},
    S.FIXED: _JUDGE | {S.HOSTED},
    S.REJECTED: _JUDGE,
    S.BLOCKED: _JUDGE,
    S.HOSTED: _JUDGE | {S.CREATING},
    S.CREATING: _JUDGE | {S.HOSTED, S.SUBMITTED, S.FAILED},
    S.SUBMITTED: frozenset({S.PROCESSING, S.SUCCEEDED, S.FAILED}),
    S.PROCESSING: frozenset({S.SUBMITTED, S.SUCCEEDED, S.FAILED}),
    S.SUCCEEDED: frozenset({S.DONE, S.FAILED}),
    S.DONE: frozenset({S.SUCCEEDED}),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}

TERMINAL = frozenset({S.DONE, S.FAILED, S.REJECTED, S.CANCELLED})
# stopped, but not for good: listed by `preflight resume` with the action each one needs
ACTIONABLE = frozenset({S.BLOCKED})


class IllegalTransitionError(LedgerError):
    """A step tried to move a job along a path the state table does not list (a bug)."""


def check_transition(current: JobStatus, new: JobStatus) -> None:
    """Raise `IllegalTransitionError` unless a job may go from ``current`` to ``new``.

    Staying in a state is always allowed (a step records a detail, such as the next fixed file),
    and so is ``cancelled`` from anything but ``done`` and ``cancelled``.
    """
    if new is current:
        return
    if new is S.CANCELLED and current not in (S.DONE, S.CANCELLED):
        return
    if new not in TRANSITIONS[current]:
        raise IllegalTransitionError(
            f"a job may not go from {current.value} to {new.value} "
            f"(allowed: {', '.join(sorted(s.value for s in TRANSITIONS[current])) or 'none'})"
        )
