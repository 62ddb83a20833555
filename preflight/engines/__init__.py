"""Where work runs: checking and fixing one input as items a process pool or Dask can run.

::

    from preflight.engines import Engine, check_batch, fix_batch

    report = check_batch(["clips/"], "kling-lipsync", engine=Engine("dask", "tcp://10.0.0.5:8786"))
    results = fix_batch(paths, profile="kling-lipsync", out_dir="s3://media/fixed",
                        engine=Engine("local"))

The items (`check_item`, `fix_item`) are pure, picklable and never raise; the engines
(`preflight.engines.pool`) run them in this process, in a local process pool, or on a Dask
cluster; the batch functions plan, collect and sort back into input order. Submitting stays
in one process (``docs/scale.md``): provider slots and the ledger are per account.
"""

from __future__ import annotations

from preflight.engines.batch import check_batch, fix_batch
from preflight.engines.items import (
    CheckItem,
    CheckItemResult,
    FixItem,
    FixItemResult,
    check_item,
    fix_item,
)
from preflight.engines.pool import ENGINES, SCHEDULER_ENV, Engine, Session, resolve_engine

__all__ = [
    "ENGINES",
    "SCHEDULER_ENV",
    "CheckItem",
    "CheckItemResult",
    "Engine",
    "FixItem",
    "FixItemResult",
    "Session",
    "check_batch",
    "check_item",
    "fix_batch",
    "fix_item",
    "resolve_engine",
]
