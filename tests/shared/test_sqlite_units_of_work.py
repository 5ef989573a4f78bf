"""Embedded mode: writing use cases on SQLite do not lose each other's updates."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, Table, select, update

from shared.db import Database

metadata = MetaData()
counters = Table("counters", metadata, Column("id", Integer, primary_key=True), Column("value", Integer))


async def test_two_read_then_write_use_cases_at_once_both_count(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'counters.db'}", "counters")
    await database.create_all(metadata)
    async with database.unit_of_work() as uow:
        await uow.session.execute(counters.insert().values(id=1, value=0))
        await uow.commit()

    async def add_one() -> None:
        async with database.unit_of_work() as uow:
            value = await uow.session.scalar(select(counters.c.value).where(counters.c.id == 1))
            await asyncio.sleep(0.05)  # the other use case reads meanwhile, if it may
            await uow.session.execute(update(counters).where(counters.c.id == 1).values(value=value + 1))
            await uow.commit()

    try:
        await asyncio.gather(add_one(), add_one(), add_one())
        async with database.sessions() as session:
            assert await session.scalar(select(counters.c.value)) == 3
    finally:
        await database.dispose()
