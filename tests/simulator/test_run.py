"""Small simulated days against a real embedded platform (a uvicorn subprocess on a free port).

The platform starts once for the module: the simulator run and the `dispatch simulate` command
share it (each run uses its own clients; providers from an earlier run are adopted).
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from services.cli import app
from services.simulator.runner import SimConfig, simulate

REPO = Path(__file__).resolve().parents[2]
STARTUP_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the four services in one process (unseeded, SQLite in tmp); yield its base URL."""
    tmp_path = tmp_path_factory.mktemp("sim-platform")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COUPDEMAIN_", "ORDERS_", "MATCHING_", "PRICING_", "PROVIDERS_"))
        and k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    env.update(
        {
            "COUPDEMAIN_VAR_DIR": str(tmp_path / "var"),
            "COUPDEMAIN_PUBLIC_URL": base_url,
            "COUPDEMAIN_LOG_LEVEL": "WARNING",
            "COUPDEMAIN_OUTBOX_POLL_S": "0.1",
            "MATCHING_BATCH_INTERVAL_S": "0.3",
            "MATCHING_FAST_BATCH_INTERVAL_S": "0.3",
        }
    )
    log = (tmp_path / "platform.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "services.platform:create_platform_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            assert process.poll() is None, (tmp_path / "platform.log").read_text()[-2000:]
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the platform did not start"
            time.sleep(0.2)
        yield base_url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        log.close()


async def test_a_small_day_adds_up_serves_orders_and_draws_charts(platform: str, tmp_path: Path) -> None:
    out = tmp_path / "sim"
    config = SimConfig(
        base_url=platform,
        orders=15,
        providers=10,
        duration_s=20.0,
        seed=3,
        out=out,
        lead_s=10.0,
        patience_s=15.0,
        grace_s=10.0,
        cancel_share=0.1,
        # high enough that some offers are declined in every run (0.65^15 offers: < 0.2 %)
        decline_share=0.35,
    )
    report = await simulate(config, Console(file=io.StringIO()))

    counts = report["orders"]
    assert counts["planned"] == 15
    assert counts["ordered"] + counts["refused_before_order"] == 15
    assert counts["served"] + counts["unfulfilled"] + counts["cancelled"] == counts["ordered"]
    assert counts["counts_add_up"] is True
    assert counts["served"] > 0
    assert report["run"]["grid_published_by_simulator"] is True
    assert report["providers"]["driven"] == 10
    assert report["dispatch_latency_s"]["count"] >= counts["served"]
    assert report["travel"]["missions"] == counts["served"]
    assert report["fair_pay"]["net_hourly_cents_per_mission"]["count"] == counts["served"]
    # provider apps decline some offers (the orders go back to the pool) and both sides rate
    offers = report["providers"]["offers"]
    assert offers["declined"] > 0, offers
    assert report["ratings"]["by_clients"]["count"] > 0, report["ratings"]
    assert report["ratings"]["by_providers"]["count"] > 0, report["ratings"]
    # provider apps share no position off duty (providers refuses it with 409)
    errors = report["http"]["errors_by_status"]
    assert not [label for label in errors if label.endswith("/position")], errors
    written = json.loads((out / "report.json").read_text())
    assert written["orders"] == counts
    for chart in ("missions_map.png", "dispatch_latency.png", "earnings_spread.png", "demand_by_hour.png"):
        assert (out / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dispatch_simulate_prints_the_report_and_writes_it(platform: str, tmp_path: Path) -> None:
    """`dispatch simulate`, the command a person runs, end to end on a tiny day."""
    out = tmp_path / "cli-sim"
    # wide enough that rich does not wrap the report's lines
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app,
        [
            "simulate",
            "--base-url",
            platform,
            "--orders",
            "3",
            "--providers",
            "3",
            "--duration",
            "5",
            "--seed",
            "11",
            "--out",
            str(out),
            # short waits between ordering, the booked start and the deadline: the run takes seconds
            "--lead",
            "2",
            "--patience",
            "3",
            "--grace",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Simulated day" in result.output and "dispatch latency" in result.output, result.output
    assert f"written: {out / 'report.json'}, " in result.output, result.output
    written = json.loads((out / "report.json").read_text())
    assert written["orders"]["planned"] == 3 and written["run"]["orders_planned"] == 3
    assert written["orders"]["counts_add_up"] is True
    assert written["providers"]["driven"] == 3
