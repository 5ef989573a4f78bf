"""Order intake on PostgreSQL in one statement: the hot path of POST /v1/orders.

The order, its first history row (the notification outbox), the idempotency record and
the `order-confirmed` outbox row are written by one INSERT ... WITH statement: one round
trip, atomic like any single statement (one transaction). For a client without a webhook,
the notification is a log line written at once, and the row is stored as sent. It runs on asyncpg directly
with a pool of its own (prepared statements, no ORM flush): the ORM path of
`OrdersService` does the same on SQLite and for recurring bookings.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

import asyncpg

from services.orders.models import ClientWebhook, IdempotencyKey, Order, OrderHistory
from shared.db import Database
from shared.events import registry
from shared.events.registry import EventPayload
from shared.outbox import OutboxRow

JSON_COLUMNS = {"quote", "response"}


class PostgresIntake:
    """Writes a confirmed order and everything that goes with it in one round trip."""

    def __init__(self, database: Database, pool_size: int) -> None:
        url = database.url.set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self.schema = database.schema
        self.database = database
        self.pool_size = pool_size
        self.pool: asyncpg.Pool | None = None
        self.order_cols = [c.name for c in Order.__table__.columns]
        self._order_nulls: dict[str, Any] = dict.fromkeys(self.order_cols)
        self.history_cols = [c.name for c in OrderHistory.__table__.columns if c.name != "id"]
        self.idem_cols = [c.name for c in IdempotencyKey.__table__.columns]
        self.outbox_cols = ["event_id", "topic", "key", "type", "envelope", "created_at"]
        n = 0
        history_client = len(self.order_cols) + self.history_cols.index("client_id") + 1

        def params(cols: list[str], table: str) -> str:
            nonlocal n
            out = []
            for col in cols:
                n += 1
                if table == "order_history" and col == "notify_state":
                    # A client without a webhook is told by a log line, written by the caller
                    # as soon as this statement commits: the row is stored as sent, and the
                    # notification dispatcher (a locked read and an update per row) skips it.
                    out.append(
                        f"CASE WHEN EXISTS (SELECT 1 FROM {ClientWebhook.__tablename__} "
                        f"WHERE client_id = ${history_client}::varchar) THEN ${n} ELSE 'sent' END"
                    )
                else:
                    out.append(f"${n}::json" if col in JSON_COLUMNS else f"${n}")
            return ", ".join(out)

        def insert(table: str, cols: list[str]) -> str:
            return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({params(cols, table)})"

        self.sql = (
            f"WITH o AS ({insert('orders', self.order_cols)}), "
            f"h AS ({insert('order_history', self.history_cols)} RETURNING notify_state), "
            f"i AS ({insert('idempotency_keys', self.idem_cols)}), "
            f"x AS ({insert(OutboxRow.__tablename__, self.outbox_cols)}) "
            "SELECT notify_state FROM h"
        )
        self.lookup_sql = (
            "SELECT endpoint, request_hash, status_code, response::text FROM idempotency_keys "
            "WHERE subject = $1 AND key = $2"
        )

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(
            self.dsn, min_size=1, max_size=self.pool_size,
            server_settings=self.database.server_settings,
            # These connections only run single autocommit statements (no SET, LISTEN, cursor
            # or advisory lock), so the default reset round trip on every release is skipped.
            reset=_keep_session,
        )

    async def stop(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def stored_answer(self, subject: str, key: str) -> IdempotencyKey | None:
        """Return the stored answer of (subject, key), if any (a detached row, for replay)."""
        assert self.pool is not None
        row = await self.pool.fetchrow(self.lookup_sql, subject, key)
        if row is None:
            return None
        return IdempotencyKey(subject=subject, key=key, endpoint=row[0], request_hash=row[1],
                              status_code=row[2], response=json.loads(row[3]))

    def order_row(self, values: dict[str, Any]) -> Order:
        """Return the order's values with attribute access, as the views and events read rows."""
        return cast(Order, SimpleNamespace(**{**self._order_nulls, **values}))

    def history_row(self, values: dict[str, Any]) -> OrderHistory:
        return cast(OrderHistory, SimpleNamespace(id=None, notify_error=None, **values))

    async def insert(
        self,
        order: dict[str, Any],
        history: dict[str, Any],
        idempotency: dict[str, Any],
        response_json: str,
        event: EventPayload,
    ) -> bool:
        """Write all four rows; return whether the client's notification is still to send.

        False: the client has no webhook, the history row is stored as sent, and the caller
        logs the notification now. Raises asyncpg.UniqueViolationError on a key or quote
        already used.
        """
        assert self.pool is not None
        envelope = registry.envelope(event)
        kind = registry.kind(envelope.type, envelope.version)
        values: list[Any] = [
            json.dumps(order[c]) if c in JSON_COLUMNS else order.get(c) for c in self.order_cols
        ]
        values += [history.get(c) for c in self.history_cols]
        values += [response_json if c == "response" else idempotency[c] for c in self.idem_cols]
        values += [str(envelope.event_id), kind.topic, envelope.aggregate_id, envelope.type,
                   envelope.model_dump_json(), envelope.occurred_at]
        state = await self.pool.fetchval(self.sql, *values)
        return bool(state != "sent")


async def _keep_session(_: asyncpg.Connection) -> None:
    return None


def is_unique_violation(exc: BaseException) -> bool:
    return isinstance(exc, asyncpg.UniqueViolationError)
