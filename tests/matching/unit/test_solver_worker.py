"""The engine's worker process follows the service: started with it when wanted, stopped with it."""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing import resource_tracker
from pathlib import Path

import pytest

from services.matching.app import MatchingComponent
from services.matching.config import MatchingSettings
from services.matching.engine import workers
from services.matching.solver_worker import is_worker_wanted
from shared.config import Mode, PlatformSettings
from tests.matching.support import matching_harness


def child_pids() -> set[int]:
    """Return the ids of this process's live children (from /proc, zombies left out)."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except OSError:
            continue  # gone meanwhile
        if int(parent) == os.getpid() and state != "Z":
            found.add(int(entry.name))
    return found


class TestIsWorkerWanted:
    @pytest.mark.parametrize(
        ("choice", "mode", "is_postgres", "cores", "expected"),
        [
            ("auto", Mode.distributed, True, 2, True),
            ("auto", Mode.distributed, True, 8, True),
            ("auto", Mode.distributed, True, 1, False),
            ("auto", Mode.distributed, False, 4, False),
            ("auto", Mode.embedded, True, 4, False),
            ("auto", Mode.embedded, False, 4, False),
            ("on", Mode.embedded, False, 1, True),
            ("on", Mode.distributed, True, 4, True),
            ("off", Mode.distributed, True, 4, False),
            ("off", Mode.embedded, False, 4, False),
        ],
    )
    def test_resolves_the_setting(
        self, choice: str, mode: Mode, is_postgres: bool, cores: int, expected: bool
    ) -> None:
        assert is_worker_wanted(choice, mode=mode, is_postgres=is_postgres, cores=cores) is expected  # type: ignore[arg-type]

    def test_the_default_is_auto_and_the_environment_sets_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert MatchingSettings().solver_worker == "auto"
        monkeypatch.setenv("MATCHING_SOLVER_WORKER", "off")
        assert MatchingSettings().solver_worker == "off"

    def test_an_unknown_value_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MATCHING_SOLVER_WORKER", "maybe")
        with pytest.raises(ValueError, match="solver_worker"):
            MatchingSettings()

    def test_the_embedded_mode_starts_no_worker_by_default(self, settings: PlatformSettings) -> None:
        component = MatchingComponent(settings, matching_settings=MatchingSettings(is_dispatch_enabled=False))
        assert component.solver_worker.is_wanted is False

    def test_a_distributed_service_on_postgresql_wants_it_on_two_cores(self) -> None:
        platform = PlatformSettings(
            mode=Mode.distributed,
            jwt_secret="a-production-secret-0123456789-abcdefghij",
            database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none",  # never connected
        )
        component = MatchingComponent(platform)
        assert component.solver_worker.is_wanted is (workers.available_cores() >= 2)


@pytest.fixture
def no_worker() -> None:
    """Start from no worker: the engine's own tests may have left theirs running."""
    workers.stop()


@pytest.mark.usefixtures("no_worker")
class TestWorkerLife:
    async def test_embedded_start_and_stop_leave_no_process(self, settings: PlatformSettings) -> None:
        before = child_pids()
        async with matching_harness(settings) as h:
            assert h.component.dispatcher.workers == 1
            assert multiprocessing.active_children() == []
            assert child_pids() == before
        assert child_pids() == before

    async def test_on_one_core_on_solves_in_process(
        self, settings: PlatformSettings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(workers, "available_cores", lambda: 1)
        matching = MatchingSettings(is_dispatch_enabled=False, solver_worker="on")
        async with matching_harness(settings, matching=matching) as h:
            assert not h.component.solver_worker.is_running
            assert h.component.dispatcher.workers == 1
            assert multiprocessing.active_children() == []

    async def test_on_starts_the_worker_with_the_service_and_stops_it_with_it(
        self, settings: PlatformSettings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(workers, "available_cores", lambda: 2)  # whatever this machine has
        before = child_pids()
        matching = MatchingSettings(is_dispatch_enabled=False, solver_worker="on")
        async with matching_harness(settings, matching=matching) as h:
            assert h.component.solver_worker.is_running
            assert h.component.dispatcher.workers == 2
            running = multiprocessing.active_children()
            assert len(running) == 1 and running[0].is_alive()
            worker_pid = running[0].pid
            assert worker_pid in child_pids()
            assert (await h.batch()).offered == 0  # a batch runs beside it
        assert multiprocessing.active_children() == []
        assert worker_pid not in child_pids()
        with pytest.raises(ProcessLookupError):
            os.kill(worker_pid, 0)
        # What may stay is multiprocessing's resource tracker: one per process, it ends with it.
        tracker = resource_tracker._resource_tracker._pid  # type: ignore[attr-defined]
        assert child_pids() - before <= {tracker}
        assert workers.submit(max, 1, 2) is None  # the engine sees no worker
