"""A pooled PostgreSQL connection the server drops: one 503 naming the cause, then back to normal."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Request
from sqlalchemy import text

from shared.app import create_app
from shared.bus.memory import InMemoryBus
from shared.component import Component
from shared.config import PlatformSettings
from shared.db import Database, make_metadata
from shared.testing import running_app


class PidComponent(Component):
    name = "orders"
    metadata = make_metadata()

    def routers(self) -> list[APIRouter]:
        router = APIRouter()

        @router.get("/v1/backend")
        async def backend(request: Request) -> dict[str, int]:
            component: Component = request.app.state.components["orders"]
            async with component.database.sessions() as session:
                return {"pid": int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)}

        return [router]


async def test_a_dropped_connection_is_a_503_and_the_next_request_reconnects(
    settings: PlatformSettings, pg_database: Database, postgres_url: str
) -> None:
    # No relay round during the test: it could meet the dead connection first and renew the pool.
    quiet = settings.model_copy(update={"outbox_poll_s": 600.0})
    app = create_app([PidComponent(quiet, pg_database)], quiet, bus=InMemoryBus())
    async with running_app(app) as http:
        first = await http.get("/v1/backend")
        assert first.status_code == 200
        admin = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:  # every connection of this app's pool, known by its application name
            pids = {r[0] for r in await admin.fetch(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                pg_database.server_settings["application_name"])}
            assert first.json()["pid"] in pids
            await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", list(pids))
        finally:
            await admin.close()
        lost = await http.get("/v1/backend")
        assert lost.status_code == 503, lost.text
        assert lost.json()["detail"][0]["msg"] == "the database connection was lost; retry"
        again = await http.get("/v1/backend")
        assert again.status_code == 200 and again.json()["pid"] not in pids
