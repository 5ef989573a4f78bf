from __future__ import annotations

from tests.providers.unit.conftest import Harness


async def test_smoke(h: Harness) -> None:
    provider = await h.activate("p1")
    assert provider["status"] == "active", provider
    await h.settle()
    assert [e["type"] for e in h.events()] == ["provider-activated", "qualifications-changed"]
