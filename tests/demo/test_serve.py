"""`dispatch serve` as a person starts it: the demo city seeded once, development tokens printed.

One real process (tests/e2e/stacks.py's EmbeddedStack) with 5 demo providers, in a temp folder
on a free port; then a second start on the same folder.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from tests.e2e.stacks import EmbeddedStack

DEMO_PROVIDERS = 5
# "  ops      ops-demo       eyJ…": role, subject, token (services/platform.py, demo_seeder)
TOKEN_LINE = re.compile(r"^\s+(ops|client|provider)\s+(\S+)\s+(\S+\.\S+\.\S+)\s*$", re.MULTILINE)
SEEDED = f"a published grid, {DEMO_PROVIDERS} providers"


def printed_tokens(log: Path, since: int, timeout_s: float = 30) -> dict[str, tuple[str, str]]:
    """Wait until the process has printed its three tokens after `since`: role -> (subject, token)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = {
            role: (subject, token) for role, subject, token in TOKEN_LINE.findall(log.read_text()[since:])
        }
        if len(found) == 3 or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


def stack_log(var_dir: Path) -> Path:
    return var_dir / "platform.log"  # where EmbeddedStack sends the process's output


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_first_start_seeds_the_demo_and_prints_working_tokens(tmp_path: Path) -> None:
    with EmbeddedStack(tmp_path, demo_providers=DEMO_PROVIDERS) as stack:
        log = stack_log(tmp_path)
        tokens = printed_tokens(log, 0)
        output = log.read_text()
        assert set(tokens) == {"ops", "client", "provider"}, output
        assert output.count(SEEDED) == 1, output

        assert tokens["ops"][0] == "ops-demo" and tokens["client"][0] == "client-demo", tokens
        listed = httpx.get(f"{stack.base_url}/v1/providers", headers=bearer(tokens["ops"][1]), timeout=10)
        assert listed.status_code == 200, listed.text
        assert len(listed.json()) == DEMO_PROVIDERS
        assert {p["status"] for p in listed.json()} == {"active"}
        # the provider token is one of the seeded providers', the client's reaches client routes
        provider_id, provider_token = tokens["provider"]
        mine = httpx.get(f"{stack.base_url}/v1/providers/{provider_id}", headers=bearer(provider_token))
        assert mine.status_code == 200 and mine.json()["id"] == provider_id, mine.text
        orders = httpx.get(f"{stack.base_url}/v1/orders", headers=bearer(tokens["client"][1]))
        assert orders.status_code == 200 and orders.json() == [], orders.text
        # the ops route refuses the client's token: the ops token passed for its role, not by luck
        refused = httpx.get(f"{stack.base_url}/v1/providers", headers=bearer(tokens["client"][1]))
        assert refused.status_code == 403, refused.text
        first_run = len(log.read_text())

    # a restart keeps the data: nothing is seeded again, the tokens are printed again
    with EmbeddedStack(tmp_path, demo_providers=DEMO_PROVIDERS) as stack:
        tokens = printed_tokens(log, first_run)
        assert set(tokens) == {"ops", "client", "provider"}, log.read_text()[first_run:]
        listed = httpx.get(f"{stack.base_url}/v1/providers", headers=bearer(tokens["ops"][1]), timeout=10)
        assert listed.status_code == 200 and len(listed.json()) == DEMO_PROVIDERS, listed.text
    assert log.read_text().count(SEEDED) == 1
