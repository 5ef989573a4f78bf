"""No input ever produces a 500: garbage to every write endpoint."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.testing import Tokens
from tests.orders.support import Harness
from tests.orders.unit.test_api_orders import confirm

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children,
                                                                          max_size=4),
    max_leaves=12,
)

ENDPOINTS = [
    ("POST", "/v1/orders", "client"),
    ("POST", "/v1/orders/{oid}/cancel", "client"),
    ("POST", "/v1/orders/{oid}/rating", "client"),
    ("POST", "/v1/orders/{oid}/disputes", "client"),
    ("PUT", "/v1/orders/cancellation-policy", "ops"),
    ("PUT", "/v1/orders/notification-webhook", "client"),
    ("POST", "/v1/orders/series/{oid}/skip", "client"),
    ("POST", "/v1/disputes/{oid}/resolve", "ops"),
    ("POST", "/v1/disputes/{oid}/notes", "ops"),
]

SHAPED = [
    {"quote_id": "q", "address": {"street": "x" * 5, "postcode": "75004", "city": "P", "lat": 1e308,
                                  "lng": -1e308}, "window": {"start": "2030-13-45", "end": 5}},
    {"quote_id": "../../etc", "address": {}, "window": {}},
    {"quote_id": "q" * 500},
    {"tiers": [{"min_hours_before": -1, "fee_percent": "abc"}], "provider_share_percent": 1e20,
     "reason": ""},
    {"score": 10**30, "comment": None},
    {"outcome": "refund", "refund_cents": -5, "note": "n"},
    {"day": "yesterday"},
    {"url": "javascript:alert(1)"},
]


async def send(h: Harness, tokens: Tokens, method: str, path: str, role: str, body: Any,
               key: str) -> int:
    headers = {**(tokens.ops() if role == "ops" else tokens.client("c1")), "Idempotency-Key": key}
    r = await h.http.request(method, path, json=body, headers=headers)
    return r.status_code


class TestGarbage:
    async def test_shaped_garbage_never_500(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens, client="c1")
        for i, (method, path, role) in enumerate(ENDPOINTS):
            for j, body in enumerate(SHAPED):
                status = await send(h, tokens, method, path.format(oid=order["id"]), role, body, f"{i}-{j}")
                assert status < 500, (path, body, status)
            r = await h.http.request(method, path.format(oid=order["id"]), content=b"\xff{not json",
                                     headers={**tokens.ops(), "Content-Type": "application/json"})
            assert r.status_code < 500

    async def test_random_garbage_never_500(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens, client="c1")
        samples: list[tuple[Any, int]] = []

        # Hypothesis draws the bodies (synchronously); the async client then sends each one.
        @settings(max_examples=40, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(body=json_values, which=st.integers(min_value=0, max_value=len(ENDPOINTS) - 1))
        def collect(body: Any, which: int) -> None:
            samples.append((body, which))

        collect()
        for n, (body, which) in enumerate(samples):
            method, path, role = ENDPOINTS[which]
            status = await send(h, tokens, method, path.format(oid=order["id"]), role, body, f"r{n}")
            assert status < 500, (path, body)

    async def test_bad_paths_and_headers(self, h: Harness, tokens: Tokens) -> None:
        for path in ("/v1/orders/" + "x" * 300, "/v1/orders/%00", "/v1/disputes/%ff%fe"):
            assert (await h.http.get(path, headers=tokens.ops())).status_code < 500
        headers = {**tokens.client(), "Idempotency-Key": "k" * 300}
        r = await h.http.post("/v1/orders", json={}, headers=headers)
        assert r.status_code == 422
        r = await h.http.get("/v1/orders?limit=-1&status=nope", headers=tokens.ops())
        assert r.status_code == 422
