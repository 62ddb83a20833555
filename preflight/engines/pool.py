"""Where work items run: ``serial`` (this process), ``local`` (a process pool), ``dask``.

All three take the same chunks of items and a module-level function, and hand results back as
they complete, so the caller can show progress and sort them into input order afterwards.

* ``serial``: one after another in this process (debugging, tiny batches).
* ``local``: a `ProcessPoolExecutor` over this machine's cores, started with ``forkserver``
  (``spawn`` where there is none): a fresh interpreter per worker, never a fork of a process
  that holds threads, sockets or a SQLite handle.
* ``dask``: Dask distributed. With a scheduler address (``--scheduler tcp://HOST:PORT`` or
  ``$PREFLIGHT_SCHEDULER``) the items go to that cluster; without one a `LocalCluster` of
  single-threaded worker processes starts on this machine and stops afterwards. Dask re-runs the
  tasks of a worker that dies on another worker; items are idempotent, so that is safe.

A chunk whose worker is lost for good (a broken pool; a task Dask gave up on after it killed
several workers) comes back as the exception, and the caller turns its items into failed results:
one lost machine never costs the whole run its report.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, TypeVar

from preflight.model.errors import ConfigError

__all__ = [
    "ENGINES",
    "SCHEDULER_ENV",
    "Engine",
    "Session",
    "chunked",
    "local_cluster",
    "resolve_engine",
    "run_chunks",
]

ENGINES = ("serial", "local", "dask")
SCHEDULER_ENV = "PREFLIGHT_SCHEDULER"
CONNECT_TIMEOUT = "10s"

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Engine:
    """Which engine, and for Dask the scheduler address (None: a LocalCluster here)."""

    name: str = "local"
    scheduler: str | None = None
    workers: int | None = None  # processes for local / LocalCluster workers; None: the cores


def resolve_engine(
    engine: str | None, scheduler: str | None = None, workers: int | None = None
) -> Engine:
    """The engine a run asked for: a scheduler address (or ``$PREFLIGHT_SCHEDULER``) means Dask."""
    address = scheduler or os.environ.get(SCHEDULER_ENV) or None
    name = engine or ("dask" if address else "local")
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    if scheduler and name != "dask":
        raise ConfigError(f"--scheduler is for --engine dask, not --engine {name}")
    return Engine(name, address if name == "dask" else None, workers)


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` in consecutive lists of at most ``size``."""
    size = max(1, size)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def run_chunks(
    fn: Callable[..., R],
    chunks: list[list[T]],
    args: tuple[Any, ...],
    engine: Engine | Session,
) -> Iterator[tuple[list[T], R | BaseException]]:
    """``fn(chunk, *args)`` for every chunk on ``engine``; (chunk, results or error) as they end.

    An `Engine` is started for this call and stopped after it; a `Session` is already running
    (a coordinator that hands work to it from many threads) and stays up."""
    if not chunks:
        return
    if isinstance(engine, Session):
        yield from engine.run(fn, chunks, args)
    elif engine.name == "serial":
        for chunk in chunks:
            yield chunk, fn(chunk, *args)
    else:
        if engine.name == "local":  # no more processes than chunks
            count = min(engine.workers or os.cpu_count() or 1, len(chunks))
            engine = Engine(engine.name, engine.scheduler, max(1, count))
        with Session(engine) as session:
            yield from session.run(fn, chunks, args)


class Session:
    """A started engine: a process pool or a Dask client, kept up across many calls.

    `submit`'s coordinator opens one for the whole batch and its job threads hand check and fix
    items to it (`run_chunks` with the session), so no call pays a pool's or a client's start-up.
    Thread-safe: both `ProcessPoolExecutor.submit` and Dask's ``Client.submit`` are."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pool: ProcessPoolExecutor | None = None
        self._client: Any = None
        self._cluster: Any = None
        if engine.name == "local":
            count = max(1, engine.workers or os.cpu_count() or 1)
            self._pool = ProcessPoolExecutor(
                max_workers=count,
                mp_context=_context(),
                initializer=_environ,
                initargs=(dict(os.environ),),
            )
        elif engine.name == "dask":
            self._client, self._cluster = _dask_client(engine)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    @property
    def slots(self) -> int:
        """Items the engine runs at once: the pool's processes, or the cluster's worker threads
        (at least 1; a cluster whose workers have not joined yet counts as 1)."""
        if self._client is not None:
            return max(1, int(sum(self._client.nthreads().values())))
        if self._pool is not None:
            return max(1, self.engine.workers or os.cpu_count() or 1)
        return 1

    def run(
        self, fn: Callable[..., R], chunks: list[list[T]], args: tuple[Any, ...]
    ) -> Iterator[tuple[list[T], R | BaseException]]:
        """``fn(chunk, *args)`` for every chunk; (chunk, results or error) as each one ends."""
        if self._client is not None:
            yield from _dask(self._client, fn, chunks, args)
        elif self._pool is not None:
            yield from _local(self._pool, fn, chunks, args)
        else:
            for chunk in chunks:
                yield chunk, fn(chunk, *args)


# what every worker imports anyway: the forkserver imports it once, and each worker forked from it
# starts with it loaded (a pool started per run would otherwise pay the imports per process)
_PRELOAD = ["preflight.engines.items", "preflight.checking.evaluate", "preflight.probing"]


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def _local(
    pool: ProcessPoolExecutor,
    fn: Callable[..., R],
    chunks: list[list[T]],
    args: tuple[Any, ...],
) -> Iterator[tuple[list[T], R | BaseException]]:
    futures: dict[Future[R], list[T]] = {pool.submit(fn, chunk, *args): chunk for chunk in chunks}
    try:
        for future in as_completed(futures):
            error = future.exception()
            yield futures[future], error if error is not None else future.result()
    finally:
        for future in futures:
            future.cancel()


def _environ(environ: dict[str, str]) -> None:
    """A pool worker takes this process's environment as it is now (credentials, endpoints): the
    forkserver it comes from keeps the one it started with, maybe runs ago."""
    os.environ.clear()
    os.environ.update(environ)


def _dask_client(engine: Engine) -> tuple[Any, Any]:
    try:
        from distributed import Client
    except ImportError as exc:
        raise ConfigError("--engine dask needs Dask: pip install 'media-preflight[dask]'") from exc
    if engine.scheduler:
        try:
            return Client(engine.scheduler, timeout=CONNECT_TIMEOUT), None  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {engine.scheduler}: {exc}"
            ) from None
    try:
        cluster = local_cluster(max(1, engine.workers or os.cpu_count() or 1))
    except (OSError, RuntimeError, TimeoutError) as exc:
        raise ConfigError(f"cannot start a local Dask cluster: {exc}") from None
    return Client(cluster), cluster  # type: ignore[no-untyped-call]


# Worker settings for item work. Dask's statistical profiler walks every thread's stack 100 times
# a second, taking the GIL from the GIL-bound probe it measures (about a tenth of check's CPU);
# nobody reads its output here. Remote workers take the same through the environment:
# DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False (docs/scale.md).
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}


def local_cluster(workers: int) -> Any:
    """A `LocalCluster` for item work: ``workers`` processes of one thread each (the probe holds
    the GIL, so threads would not add cores), on loopback, no dashboard, no profiler."""
    import logging

    import dask
    from distributed import LocalCluster

    with dask.config.set(WORKER_CONFIG):  # the nannies hand this config to their workers
        return LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",  # a cluster for this machine listens on loopback only
            # no dashboard; its small HTTP endpoint on a free port, not a warning about 8787
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        )


def _dask(
    client: Any, fn: Callable[..., R], chunks: list[list[T]], args: tuple[Any, ...]
) -> Iterator[tuple[list[T], R | BaseException]]:
    """The chunks as one graph of tasks; each task's input and result travel as pickled bytes.

    Dask serialises a list task by task and element by element (a header and a frame for each
    of a chunk's results, packed and unpacked on both sides), and re-pickles a task's arguments
    at every hop (client, scheduler, worker): for items a third of a millisecond long that cost
    more than the items. Bytes are one frame that every hop passes along untouched; the shared
    arguments (profile, config) are pickled once for the batch and unpickled once per worker
    (`_shared`), and one ``map`` sends the whole batch in one message to the scheduler."""
    from distributed import as_completed as dask_completed

    shared = _pack(args)
    keys = [f"{fn.__name__}-{uuid.uuid4().hex}" for _ in chunks]  # named as the work, not `_remote`
    futures = client.map(_remote, [_pack(c) for c in chunks], key=keys, fn=fn, shared=shared)
    where = {future.key: i for i, future in enumerate(futures)}
    # results gathered by the client's own loop as tasks end, in batches, instead of one blocking
    # round trip to a worker per task; a task's error (e.g. KilledWorker) comes back as the value
    done = dask_completed(futures, with_results=True, raise_errors=False)  # type: ignore[no-untyped-call]
    try:
        for future, outcome in done:
            got = _dask_outcome(future, outcome)
            yield chunks[where[future.key]], _unpack(got) if isinstance(got, bytes) else got
    finally:
        for future in futures:
            future.release()


def _pack(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _unpack(blob: bytes) -> Any:
    # bytes between this coordinator and its own cluster, which unpickles every task anyway
    return pickle.loads(blob)  # noqa: S301


# a worker's unpickled shared arguments, by their bytes: a batch's tasks all carry the same ones
_SHARED: dict[bytes, tuple[Any, ...]] = {}
_SHARED_KEPT = 4


def _shared(blob: bytes) -> tuple[Any, ...]:
    found = _SHARED.get(blob)
    if found is None:
        found = _unpack(blob)
        if len(_SHARED) >= _SHARED_KEPT:
            _SHARED.clear()
        _SHARED[blob] = found
    return found


def _remote(blob: bytes, *, fn: Callable[..., R], shared: bytes) -> bytes:
    """A task on a Dask worker: ``fn(chunk, *args)`` from and to pickled bytes (see `_dask`)."""
    return _pack(fn(_unpack(blob), *_shared(shared)))


def _dask_outcome(future: Any, outcome: Any) -> Any:
    """What `as_completed` handed back: the result, or the task's exception (Dask gives an
    errored task's ``(type, exception, traceback)``; a cancelled one, the CancelledError)."""
    if future.status == "error" and isinstance(outcome, tuple) and len(outcome) == 3:
        return outcome[1]
    return outcome
