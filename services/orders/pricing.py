"""The pricing port: fetch a quote over HTTP (`GET /v1/quotes/{id}`), timeout and bounded retries.

Only the HTTP contract of the brief is used; the pricing service is never imported.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote as url_quote

import httpx
import structlog
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from services.orders.errors import PricingUnavailable, QuoteNotFound
from shared.errors import Gone

log = structlog.get_logger(__name__)

POOL_SHARDS = 16


class Quote(BaseModel):
    """The fields of a pricing quote this service relies on; the rest is kept in `raw`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    category: str
    zone: str
    postcode: str
    lat: float | None = None  # pricing may quote by postcode alone
    lng: float | None = None
    start_at: AwareDatetime
    duration_min: int = Field(gt=0)
    price_cents: int = Field(ge=0)
    payout_cents: int = Field(ge=0)
    commission_cents: int
    grid_version: int
    expires_at: AwareDatetime
    client_id: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)


def parse_quote(body: dict[str, Any]) -> Quote:
    """Validate a pricing answer and keep the whole of it as the order's copy."""
    return Quote.model_validate({**body, "raw": body})


class PricingGateway(Protocol):
    async def fetch_quote(self, quote_id: str) -> Quote:
        """Return the quote; QuoteNotFound, Gone (expired) or PricingUnavailable otherwise."""
        ...


class HttpPricing:
    """Pricing over HTTP: connection errors, timeouts and 5xx are retried, then 503."""

    def __init__(self, base_url: str, *, timeout_s: float, attempts: int, backoff_s: float) -> None:
        # httpx between services (fixed by design). One httpx pool costs more CPU per request the
        # more requests wait on it (2.3 ms at 32 in flight, 0.75 ms alone, measured here), so
        # requests go round-robin over small pools of keep-alive connections.
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        self.clients = [
            httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(timeout_s), limits=limits)
            for _ in range(POOL_SHARDS)
        ]
        self._next = itertools.cycle(self.clients)
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s

    async def fetch_quote(self, quote_id: str) -> Quote:
        path = f"/v1/quotes/{url_quote(quote_id, safe='')}"
        problem = "no answer"
        for attempt in range(1, self.attempts + 1):
            try:
                response = await next(self._next).get(path)
                status, body = response.status_code, response.content
            except httpx.TimeoutException:
                problem = "timed out"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if status == 200:
                    try:
                        return parse_quote(json.loads(body))
                    except (ValueError, ValidationError) as exc:
                        log.error("pricing_bad_quote", quote_id=quote_id, error=str(exc)[:500])
                        raise PricingUnavailable("pricing answered an unreadable quote") from exc
                if status == 410:
                    raise Gone(f"quote {quote_id} has expired; ask for a new quote", field="quote_id")
                if status in (404, 422, 400):
                    raise QuoteNotFound(quote_id)
                problem = f"pricing answered {status}"
            log.warning("pricing_fetch_failed", quote_id=quote_id, attempt=attempt, problem=problem)
            if attempt < self.attempts:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise PricingUnavailable(problem)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


def is_expired(quote: Quote, now: datetime) -> bool:
    """Say whether the quote may no longer be ordered from."""
    return quote.expires_at <= now
