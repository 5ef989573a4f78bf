"""The application factory: probes, metrics, error format, trace id from request to event."""

from __future__ import annotations

import gc
import json

import pytest
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from shared.app import create_app
from shared.bus.memory import InMemoryBus
from shared.component import Component
from shared.config import PlatformSettings
from shared.db import make_metadata
from shared.errors import IllegalTransition
from shared.events.orders import OrderCancelled
from shared.outbox import OutboxRow
from shared.testing import running_app


class CancelBody(BaseModel):
    reason: str = Field(min_length=3)


class DemoComponent(Component):
    name = "orders"
    metadata = make_metadata()

    def routers(self) -> list[APIRouter]:
        router = APIRouter()

        @router.post("/v1/demo/{order_id}/cancel", status_code=202)
        async def cancel(order_id: str, body: CancelBody, request: Request) -> dict[str, str]:
            component: Component = request.app.state.components["orders"]
            async with component.database.unit_of_work() as uow:
                uow.add_event(OrderCancelled(order_id=order_id, cancelled_by="client", reason=body.reason))
                await uow.commit()
            return {"status": "accepted"}

        @router.post("/v1/demo/{order_id}/complete")
        async def complete(order_id: str) -> None:
            raise IllegalTransition("order", "cancelled", "complete")

        return [router]


@pytest.fixture
def bus() -> InMemoryBus:
    return InMemoryBus()


@pytest.fixture
def app(settings: PlatformSettings, bus: InMemoryBus) -> FastAPI:
    return create_app([DemoComponent(settings)], settings, bus=bus)


async def test_probes_and_metrics(app: FastAPI) -> None:
    async with running_app(app) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database:orders": "ok", "broker": "ok"}
        await http.post("/v1/demo/o-1/cancel", json={"reason": "too late"})
        metrics = (await http.get("/metrics")).text
    assert "http_requests_total" in metrics
    assert 'route="/v1/demo/{order_id}/cancel"' in metrics


async def test_readyz_is_503_when_the_broker_is_down(app: FastAPI, bus: InMemoryBus) -> None:
    async with running_app(app) as http:
        bus.is_down = True
        ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["broker"].startswith("down")


async def test_trace_id_goes_from_the_request_into_the_event(app: FastAPI, bus: InMemoryBus) -> None:
    async with running_app(app) as http:
        response = await http.post(
            "/v1/demo/o-7/cancel", json={"reason": "moved out"}, headers={"X-Trace-Id": "trace-from-app"}
        )
        assert response.headers["x-trace-id"] == "trace-from-app"
        component: Component = app.state.components["orders"]
        async with component.database.sessions() as session:
            row = (await session.scalars(select(OutboxRow))).one()
        await app.state.relays[0].publish_pending()
    assert json.loads(row.envelope)["trace_id"] == "trace-from-app"
    (published,) = bus.messages("orders.events")
    assert json.loads(published.value)["trace_id"] == "trace-from-app"
    assert published.key == "o-7"


async def test_requests_without_a_trace_id_get_one(app: FastAPI) -> None:
    async with running_app(app) as http:
        response = await http.get("/healthz")
    assert len(response.headers["x-trace-id"]) == 32


async def test_validation_errors_name_the_field(app: FastAPI) -> None:
    async with running_app(app) as http:
        response = await http.post("/v1/demo/o-1/cancel", json={"reason": "x"})
        malformed = await http.post(
            "/v1/demo/o-1/cancel", content=b"{oops", headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "reason"]
    assert "at least 3 characters" in error["msg"]
    assert malformed.status_code == 422


async def test_illegal_transition_is_409_naming_the_current_state(app: FastAPI) -> None:
    async with running_app(app) as http:
        response = await http.post("/v1/demo/o-1/complete")
    assert response.status_code == 409
    (error,) = response.json()["detail"]
    assert error["msg"] == "cannot complete a order that is cancelled"
    assert error["current_state"] == "cancelled"


async def test_asyncapi_lists_every_topic(app: FastAPI) -> None:
    async with running_app(app) as http:
        document = (await http.get("/asyncapi.json")).json()
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == {"providers.events", "pricing.events", "orders.events", "matching.events"}
    assert "order-confirmed.v1" in document["components"]["messages"]


async def test_a_server_process_freezes_its_start_up_heap(settings: PlatformSettings) -> None:
    assert gc.get_freeze_count() == 0
    frozen_app = create_app([DemoComponent(settings)], settings, bus=InMemoryBus(), freeze_heap=True)
    plain_app = create_app([DemoComponent(settings)], settings, bus=InMemoryBus())
    try:
        async with running_app(plain_app) as http:
            assert (await http.get("/healthz")).status_code == 200
        assert gc.get_freeze_count() == 0  # by default (tests build many apps) nothing is frozen
        async with running_app(frozen_app) as http:
            assert (await http.get("/healthz")).status_code == 200
            assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
