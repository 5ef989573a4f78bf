"""The optional INSEE Sirene check, against a local HTTP stub server (no patching)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.providers.config import ProvidersSettings
from tests.providers.unit.conftest import VALID_SIRET, Harness
from tests.providers.unit.sirene_stub import KEY, SireneStub, establishment

CLOSED_SIRET = "35600000000010"  # La Poste-style valid SIRET, registered as closed in the stub
UNKNOWN_SIRET = "44306184100047"


@pytest.fixture
def stub() -> Iterator[SireneStub]:
    companies = {
        VALID_SIRET: establishment(VALID_SIRET, "A", "81.21Z"),
        CLOSED_SIRET: establishment(CLOSED_SIRET, "F", "81.21Z", unit_state="C"),
    }
    with SireneStub(companies).running() as running:
        yield running


async def approve(h: Harness, provider_id: str) -> Any:
    return await h.http.post(f"/v1/vetting/{provider_id}/approve", json={}, headers=h.ops)


async def test_off_by_default(h: Harness) -> None:
    await h.apply("p1")
    response = await h.http.post("/v1/vetting/p1/registry-check", headers=h.ops)
    assert response.status_code == 409 and "PROVIDERS_SIRENE_URL" in response.json()["detail"][0]["msg"]


async def test_active_company_activates_with_key_sent(make_harness: Any, stub: SireneStub) -> None:
    async with make_harness(ProvidersSettings(sirene_url=stub.url, sirene_key=KEY)) as h:
        await h.apply("p1", categories=["cleaning", "gardening"])
        await h.vet("p1")
        response = await approve(h, "p1")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "active" and body["registry"]["status"] == "active"
        assert body["registry"]["activity_code"] == "81.21Z" and body["registry"]["legal_form"] == "1000"
        # 81.21Z (cleaning) does not cover gardening: only that category is blocked
        assert body["qualifications"]["qualified"] == ["cleaning"]
        gardening = next(c for c in body["qualifications"]["categories"] if c["category"] == "gardening")
        assert gardening["missing"][0]["item"] == "activity_code"
    assert stub.requests == [(f"/api-sirene/3.11/siret/{VALID_SIRET}", KEY)]


@pytest.mark.parametrize(("siret", "status"), [(CLOSED_SIRET, "closed"), (UNKNOWN_SIRET, "unknown")])
async def test_inactive_or_unknown_company_blocks_activation(
    make_harness: Any, stub: SireneStub, siret: str, status: str
) -> None:
    async with make_harness(ProvidersSettings(sirene_url=stub.url, sirene_key=KEY)) as h:
        await h.apply("p1", siret=siret)
        await h.vet("p1")
        response = await approve(h, "p1")
        assert response.status_code == 409
        error = response.json()["detail"][0]
        assert error["missing"] == ["company_registry"] and status in error["msg"]
        provider = (await h.http.get("/v1/providers/p1", headers=h.ops)).json()
        assert provider["status"] == "under_review" and provider["registry"]["status"] == status


async def test_wrong_key_is_503_and_changes_nothing(make_harness: Any, stub: SireneStub) -> None:
    async with make_harness(ProvidersSettings(sirene_url=stub.url, sirene_key="wrong")) as h:
        await h.apply("p1")
        response = await h.http.post("/v1/vetting/p1/registry-check", headers=h.ops)
        assert response.status_code == 503
        provider = (await h.http.get("/v1/providers/p1", headers=h.ops)).json()
        assert provider["registry"]["status"] is None


async def test_unreachable_registry_is_503(make_harness: Any) -> None:
    async with make_harness(ProvidersSettings(sirene_url="http://127.0.0.1:9", sirene_key=KEY)) as h:
        await h.apply("p1")
        await h.vet("p1")
        assert (await approve(h, "p1")).status_code == 503
