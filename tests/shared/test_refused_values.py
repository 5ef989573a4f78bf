"""A value PostgreSQL cannot store, missed by a schema: a 422 naming the reason, nothing written."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Request
from sqlalchemy import Column, Integer, String, Table, func, select

from shared.app import create_app
from shared.bus.memory import InMemoryBus
from shared.component import Component
from shared.config import PlatformSettings
from shared.db import Database, make_metadata
from shared.testing import running_app

metadata = make_metadata()
notes = Table(
    "refused_value_notes", metadata, Column("id", Integer, primary_key=True), Column("text", String(5))
)


class NotesComponent(Component):
    name = "orders"
    metadata = metadata

    def routers(self) -> list[APIRouter]:
        router = APIRouter()

        @router.post("/v1/notes")
        async def add_note(request: Request) -> dict[str, int]:
            # Deliberately unchecked: the body goes straight to the column.
            text = (await request.json())["text"]
            async with self.database.sessions() as session, session.begin():
                await session.execute(notes.insert().values(text="kept?"))
                await session.execute(notes.insert().values(text=text))
            return {"written": 2}

        @router.get("/v1/notes")
        async def count(request: Request) -> dict[str, int]:
            async with self.database.sessions() as session:
                return {"rows": int(await session.scalar(select(func.count()).select_from(notes)) or 0)}

        return [router]


@pytest.mark.parametrize(
    ("text", "reason"),
    [("far too long", "value too long"), ("a\x00b", "0x00")],
    ids=["longer-than-its-column", "nul-character"],
)
async def test_a_value_the_database_refuses_is_a_422_and_nothing_is_written(
    settings: PlatformSettings, pg_database: Database, text: str, reason: str
) -> None:
    app = create_app([NotesComponent(settings, pg_database)], settings, bus=InMemoryBus())
    async with running_app(app) as http:
        refused = await http.post("/v1/notes", json={"text": text})
        assert refused.status_code == 422, refused.text
        (detail,) = refused.json()["detail"]
        assert detail["loc"] == ["body"] and detail["msg"].startswith("a value cannot be stored")
        assert reason in detail["msg"]
        assert (await http.get("/v1/notes")).json() == {"rows": 0}
        accepted = await http.post("/v1/notes", json={"text": "fine"})
        assert accepted.status_code == 200 and (await http.get("/v1/notes")).json() == {"rows": 2}
