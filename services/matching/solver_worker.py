"""The engine's worker process as part of the service's life: started with it, stopped with it.

The engine (`engine/workers.py`) solves a large batch's first graph in two halves, one
in a worker process it would otherwise start on the first large batch, which would then
wait 0.25-1.4 s for it. A service process that solves large batches starts it at
start-up instead. The embedded mode (four services in one process: demos, tests) runs
no worker process: the engine solves both halves in the calling process, with the same
result (it never depends on the worker).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Literal

import structlog

from services.matching.engine import workers
from shared.config import Mode

log = structlog.get_logger(__name__)

SolverWorkerChoice = Literal["auto", "on", "off"]

_lock = threading.Lock()
_holders = 0  # components of this process that started the worker (it is one per process)


def is_worker_wanted(choice: SolverWorkerChoice, *, mode: Mode, is_postgres: bool, cores: int) -> bool:
    """Say whether this process should run the worker: `auto` means a distributed service on
    PostgreSQL with two cores or more."""
    if choice == "on":
        return True
    if choice == "off":
        return False
    return mode is Mode.distributed and is_postgres and cores >= 2


class SolverWorker:
    """Starts the engine's worker with the service when wanted and stops it with the service."""

    def __init__(self, is_wanted: bool) -> None:
        self.is_wanted = is_wanted
        self.is_running = False

    @property
    def engine_workers(self) -> int:
        """Return the `workers` the engine should be given: 1 keeps every solve in this process."""
        return 2 if self.is_running else 1

    async def start(self) -> bool:
        """Start the worker (off the event loop: it takes a few tenths of a second); whether it runs."""
        global _holders
        if not self.is_wanted or self.is_running:
            return self.is_running
        self.is_running = await asyncio.to_thread(workers.start)
        if self.is_running:
            with _lock:
                _holders += 1
        log.info("solver_worker", is_running=self.is_running, cores=workers.available_cores())
        return self.is_running

    async def stop(self) -> None:
        """Stop the worker once the last component that started it stops."""
        global _holders
        if not self.is_running:
            return
        self.is_running = False
        with _lock:
            _holders -= 1
            is_last = _holders == 0
        if is_last:
            await asyncio.to_thread(workers.stop)
