"""Run one function over many inputs: in this process, in worker processes, or on a dask cluster.

Results come back as they finish (not in input order). Each worker process loads its models
once (the engines cache themselves per process), so a batch pays the load once per worker.
There are never more workers than jobs or cores, and workers die with the process that
started them, even after a ``kill -9`` of it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")

#: How many jobs wait in the queue per worker: enough to keep workers busy, few enough that
#: a Ctrl-C or a kill loses little queued work and memory stays flat on huge folders.
_QUEUE_PER_WORKER = 2


def default_workers() -> int:
    return os.cpu_count() or 1


def worker_count(requested: int | None, jobs: int) -> int:
    """Worker processes for ``jobs`` jobs: as many as requested (default: every core), but never
    more than the jobs or the cores (more would only compete for them)."""
    return max(1, min(requested or default_workers(), default_workers(), jobs))


def run_all(fn: Callable[..., T], jobs: Iterable[tuple[Any, ...]], workers: int = 1,
            executor: str | None = None, shared: Any = None) -> Iterator[T]:
    """Yield ``fn(shared, *job)`` for every job, with ``workers`` processes or a ``dask://HOST:PORT``
    cluster. ``shared`` (what every job needs: a rubric of several MB) reaches each worker once,
    not with each job (pickling the default rubric took 53 ms a job, scoring the call 24 ms)."""
    if executor:
        yield from _run_dask(fn, jobs, executor, shared)
        return
    if workers <= 1:
        for job in jobs:
            yield fn(shared, *job)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker,
                             initargs=(workers, os.getpid(), shared)) as pool:
        pending: set[Future[T]] = set()
        try:
            for job in jobs:
                pending.add(pool.submit(_with_shared, fn, *job))
                if len(pending) >= workers * _QUEUE_PER_WORKER:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            for future in _as_done(pending):
                yield future.result()
        except BaseException:  # Ctrl-C, or the caller stopped: queued jobs are dropped, not waited for
            pool.shutdown(wait=False, cancel_futures=True)
            raise


_SHARED: Any = None


def _with_shared(fn: Callable[..., T], *job: Any) -> T:
    return fn(_SHARED, *job)


def _start_worker(workers: int, parent: int, shared: Any = None) -> None:
    global _SHARED
    _SHARED = shared
    # A worker's libraries use its share of the cores, not all of them each.
    os.environ.setdefault("CALLQA_ENCODER_THREADS", str(max(1, default_workers() // workers)))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the batch
    _die_with(parent)


def _die_with(parent: int) -> None:
    """End this worker when ``parent`` ends, however it ends (kill -9 passes nothing on): Linux
    kills it at once (PR_SET_PDEATHSIG: strictly, when the parent's thread that started the pool
    ends; ``run_all`` holds its pool inside one call, so that thread outlives it); elsewhere a
    thread sees the worker handed to another parent."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    else:
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1)
            os._exit(1)

        threading.Thread(target=watch, daemon=True, name="callqa-parent-watch").start()
    if os.getppid() != parent:  # the parent ended before the signal was asked for
        os._exit(1)


def _as_done(pending: set[Future[T]]) -> Iterator[Future[T]]:
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        yield from done


def _run_dask(fn: Callable[..., T], jobs: Iterable[tuple[Any, ...]], address: str, shared: Any) -> Iterator[T]:
    """Send jobs to an existing dask.distributed scheduler; results stream back here."""
    from callqa.errors import CallQAError

    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise CallQAError("--executor dask:// needs dask.distributed: pip install 'callqa[dask]'") from exc
    target = address.removeprefix("dask://")
    try:
        client = Client(f"tcp://{target}", timeout="10s")
    except OSError as exc:
        raise CallQAError(f"cannot reach the dask scheduler at {target}: {exc}; "
                          f"start one with `dask scheduler` and workers with `dask worker {target}`") from exc
    with client:
        common = client.scatter(shared, broadcast=True)  # sent to each worker once
        futures = [client.submit(fn, common, *job, pure=False) for job in jobs]
        for future in as_completed(futures):
            yield future.result()
