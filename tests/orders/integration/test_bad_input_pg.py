"""Over-long and unstorable strings to every write endpoint on real PostgreSQL: 422 naming the
field, never a 500 from the database (SQLite does not enforce VARCHAR lengths, PostgreSQL does)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from shared.testing import Tokens
from tests.orders.support import Harness, PricingStub, harness_on_postgres, order_body
from tests.orders.unit.test_api_orders import assigned, completed, confirm, started

pytestmark = pytest.mark.integration

TOKENS = Tokens()


@pytest.fixture
async def pg(postgres_url: str, unique: Callable[[str], str], pricing: PricingStub
             ) -> AsyncIterator[Harness]:
    async with harness_on_postgres(postgres_url, unique("orders"), pricing) as h:
        yield h


def url_of_length(length: int) -> str:
    base = "https://hooks.example.com/"
    return base + "a" * (length - len(base))


def assert_refused(r: Any, loc: list[str]) -> None:
    assert r.status_code == 422, (loc, r.status_code, r.text)
    assert [e["loc"] for e in r.json()["detail"]] == [loc], r.text  # that field, and only it


async def test_over_long_strings_are_422_naming_the_field(pg: Harness, pricing: PricingStub) -> None:
    h = pg
    client = TOKENS.client("c1")
    done = await confirm(h, TOKENS, client="c1")
    await h.emit(assigned(done["id"]))
    await h.emit(started(done["id"]))
    await h.emit(completed(done))
    r = await h.http.post(f"/v1/orders/{done['id']}/disputes", json={"reason": "broken vase"},
                          headers=client)
    assert r.status_code == 201, r.text
    dispute_id = r.json()["id"]
    pending = await confirm(h, TOKENS, client="c1")

    quote = pricing.add_quote(h.clock.now)
    good = order_body(quote)
    cases: list[tuple[str, str, dict[str, str], Any, list[str]]] = [
        ("POST", "/v1/orders", client, order_body(quote, quote_id="q" * 101), ["body", "quote_id"]),
        ("POST", "/v1/orders", client,
         {**good, "address": {**good["address"], "street": "s" * 201}}, ["body", "address", "street"]),
        ("POST", "/v1/orders", client,
         {**good, "address": {**good["address"], "city": "c" * 101}}, ["body", "address", "city"]),
        ("POST", "/v1/orders", client,
         {**good, "address": {**good["address"], "postcode": "7" * 11}}, ["body", "address", "postcode"]),
        ("POST", "/v1/orders", client, order_body(quote, access_notes="n" * 2001),
         ["body", "access_notes"]),
        ("POST", f"/v1/orders/{pending['id']}/cancel", client, {"reason": "r" * 1001}, ["body", "reason"]),
        ("PUT", "/v1/orders/cancellation-policy", TOKENS.ops(),
         {"tiers": [{"min_hours_before": 0, "fee_percent": "10"}], "provider_share_percent": "50",
          "reason": "r" * 1001}, ["body", "reason"]),
        ("PUT", "/v1/orders/notification-webhook", client, {"url": url_of_length(714)}, ["body", "url"]),
        ("PUT", "/v1/orders/notification-webhook", client, {"url": url_of_length(501)}, ["body", "url"]),
        # Percent-encoding makes the stored URL longer than the one sent: the stored one must fit.
        ("PUT", "/v1/orders/notification-webhook", client,
         {"url": url_of_length(300) + "é" * 40}, ["body", "url"]),
        ("POST", f"/v1/orders/{done['id']}/rating", client, {"score": 5, "comment": "c" * 2001},
         ["body", "comment"]),
        ("POST", f"/v1/orders/{done['id']}/disputes", client, {"reason": "r" * 1001}, ["body", "reason"]),
        ("POST", f"/v1/disputes/{dispute_id}/notes", TOKENS.ops(), {"note": "n" * 1001}, ["body", "note"]),
        ("POST", f"/v1/disputes/{dispute_id}/resolve", TOKENS.ops(),
         {"outcome": "rejected", "note": "n" * 1001}, ["body", "note"]),
        ("POST", "/v1/orders/series/s1/skip", client, {"day": "2" * 500}, ["body", "day"]),
    ]
    for method, path, headers, body, loc in cases:
        r = await h.http.request(method, path, json=body, headers={**headers, "Idempotency-Key": "k"})
        assert_refused(r, loc)

    long_key = {**client, "Idempotency-Key": "k" * 201}
    assert_refused(await h.http.post("/v1/orders", json=good, headers=long_key),
                   ["header", "Idempotency-Key"])
    assert_refused(await h.http.post(f"/v1/orders/{done['id']}/rating", json={"score": 5},
                                     headers=long_key), ["header", "Idempotency-Key"])
    assert_refused(await h.http.post(f"/v1/orders/{'o' * 101}/cancel", json={"reason": "r"},
                                     headers=client), ["path", "order_id"])
    # An id longer than the column but within the path's limit is simply unknown.
    r = await h.http.post(f"/v1/orders/{'o' * 60}/cancel", json={"reason": "r"}, headers=client)
    assert r.status_code == 404, r.text


async def test_nul_characters_are_422_naming_the_field(pg: Harness, pricing: PricingStub) -> None:
    """PostgreSQL text cannot hold U+0000: refused as input rather than failing at insert."""
    h = pg
    client = TOKENS.client("c1")
    pending = await confirm(h, TOKENS, client="c1")
    quote = pricing.add_quote(h.clock.now)
    good = order_body(quote)
    cases: list[tuple[str, dict[str, Any], list[str]]] = [
        ("/v1/orders", order_body(quote, access_notes="code\x001234"), ["body", "access_notes"]),
        ("/v1/orders", {**good, "address": {**good["address"], "street": "12 rue\x00 X"}},
         ["body", "address", "street"]),
        ("/v1/orders", {**good, "address": {**good["address"], "city": "Par\x00is"}},
         ["body", "address", "city"]),
        (f"/v1/orders/{pending['id']}/cancel", {"reason": "no\x00"}, ["body", "reason"]),
    ]
    for path, body, loc in cases:
        r = await h.http.post(path, json=body, headers={**client, "Idempotency-Key": "nul"})
        assert_refused(r, loc)
    for path, loc in [("/v1/orders/ab%00c", ["path", "order_id"]),
                      ("/v1/disputes/ab%00c", ["path", "dispute_id"]),
                      ("/v1/orders/series/ab%00c", ["path", "series_id"]),
                      ("/v1/ratings?provider_id=ab%00c", ["query", "provider_id"])]:
        assert_refused(await h.http.get(path, headers=TOKENS.ops()), loc)


async def test_longest_accepted_values_are_stored(pg: Harness, pricing: PricingStub) -> None:
    """The limits are the columns' own: a value of exactly the column length goes through."""
    h = pg
    client = TOKENS.client("c1")
    url = url_of_length(500)
    r = await h.http.put("/v1/orders/notification-webhook", json={"url": url}, headers=client)
    assert r.status_code == 200, r.text
    assert (await h.http.get("/v1/orders/notification-webhook", headers=client)).json() == {"url": url}
    quote = pricing.add_quote(h.clock.now)
    body = order_body(quote, access_notes="n" * 2000)
    body["address"] = {**body["address"], "street": "s" * 200, "city": "c" * 100}
    r = await h.http.post("/v1/orders", json=body, headers={**client, "Idempotency-Key": "k" * 200})
    assert r.status_code == 201, r.text
    assert r.json()["address"]["street"] == "s" * 200
