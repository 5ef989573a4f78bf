"""A second core for the engine: one worker process, started once and reused.

OR-Tools holds the GIL while it solves, so threads cannot solve two flows at once; a process
can. The worker only ever runs pure functions of arrays (see `flow.solve_part`): what it
returns is what the calling process would have computed, so the result of a batch never
depends on whether the worker is there. Without it (one core, or it could not start), the
same work runs in the calling process, one part after the other.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None
_disabled = False


def _warm() -> None:
    """Import what the worker's tasks need before the first one arrives."""
    import services.matching.engine.flow  # noqa: F401


def available_cores() -> int:
    """Return the cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def start(*, even_on_one_core: bool = False) -> bool:
    """Start the worker process if this machine has a second core; return whether it runs.

    Starting takes a few tenths of a second (a fresh interpreter importing numpy and
    OR-Tools): call it once when the service starts, not in the middle of a batch.
    `even_on_one_core`: start it anyway (tests of the worker's answers, which never depend
    on the cores; on one core it only makes a batch slower).
    """
    global _executor, _disabled
    with _lock:
        if _executor is not None:
            return True
        if _disabled or (available_cores() < 2 and not even_on_one_core):
            return False
        try:
            # spawn, not fork: the service runs threads (asyncio.to_thread, Kafka clients).
            context = multiprocessing.get_context("spawn")
            _executor = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_warm)
            _executor.submit(_warm).result(timeout=60)
        except (OSError, RuntimeError, BrokenProcessPool, TimeoutError):
            _executor, _disabled = None, True
            return False
        return True


def stop() -> None:
    """Stop the worker process (it is started again on demand)."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)


def submit(function: Callable[..., T], *args: Any) -> Future[T] | None:
    """Run a function of plain arrays in the worker; None when there is no worker."""
    global _executor
    executor = _executor
    if executor is None:
        return None
    try:
        return executor.submit(function, *args)
    except (BrokenProcessPool, RuntimeError):
        with _lock:
            _executor = None
        return None


def result(future: Future[T] | None, function: Callable[..., T], *args: Any) -> T:
    """Return the worker's answer, or compute it here if the worker failed or is absent."""
    global _executor
    if future is not None:
        try:
            return future.result()
        except BrokenProcessPool:
            with _lock:
                _executor = None
    return function(*args)
