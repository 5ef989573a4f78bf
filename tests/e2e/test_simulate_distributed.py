"""A small simulated day (`dispatch simulate`) against the distributed stack of the e2e tests.

It reuses the session's running stack (conftest.py) instead of starting one of its own, and runs
after the main-flow scenario on it (conftest.py orders the tests): the scenario needs a platform
with no grid in force and publishes grid v1 itself. The simulator then finds the scenario's grid
(one zone, two postcodes) and its provider on duty: it adopts the provider and places its orders
in the grid's postcodes. Run alone on a fresh stack, it publishes the demo city's grid itself.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from services.simulator.runner import SimConfig, simulate
from tests.e2e.stacks import DistributedStack

pytestmark = pytest.mark.integration


async def test_a_small_day_against_the_distributed_stack(
    distributed_platform: DistributedStack, tmp_path: Path
) -> None:
    # the secret as `deploy/platform.sh` leaves it for `dispatch simulate --secret-file`
    secret_file = tmp_path / "jwt_secret"
    secret_file.write_text(distributed_platform.jwt_secret + "\n", encoding="utf-8")
    out = tmp_path / "sim"
    config = SimConfig(
        base_url=distributed_platform.base_url,
        secret_file=secret_file,
        orders=10,
        providers=6,
        duration_s=12.0,
        seed=5,
        out=out,
        lead_s=4.0,
        patience_s=6.0,
        grace_s=4.0,
        cancel_share=0.0,
        decline_share=0.1,
    )
    printed = io.StringIO()
    report = await simulate(config, Console(file=printed, width=400))
    print(printed.getvalue())

    counts = report["orders"]
    assert counts["planned"] == 10
    assert counts["ordered"] + counts["refused_before_order"] == 10, counts
    assert counts["served"] + counts["unfulfilled"] + counts["cancelled"] == counts["ordered"], counts
    assert counts["counts_add_up"] is True, counts
    assert counts["served"] > 0, (counts, report["run"])
    assert report["travel"]["missions"] == counts["served"]
    written = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert written["orders"] == counts
    assert (out / "missions_map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(out / "missions_map.png") in report["files"], report["files"]
