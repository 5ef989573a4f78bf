"""No input produces a 500: every write endpoint fed malformed and mutated bodies."""

from __future__ import annotations

import json
import random
from typing import Any

from tests.providers.unit.conftest import Harness, application

GARBAGE: list[Any] = [
    None,
    "",
    "x" * 5000,
    -1,
    0,
    10**30,
    -(10**30),
    1e308,
    [],
    {},
    [1, "a", None],
    {"nested": {"deep": [1, 2, {"x": None}]}},
    True,
    "2026-13-45T99:99:99Z",
    "2026-11-26T10:00:00",
    "\u0000\ud7ff",
    "é" * 50,
    "-1",
    "NaN",
]
RAW_BODIES = [
    b"",
    b"not json",
    b"{",
    b"[]",
    b"null",
    b'"text"',
    b'{"lat": NaN, "lng": Infinity}',
    b"\xff\xfe",
]


def endpoints(h: Harness) -> list[tuple[str, str, dict[str, Any], dict[str, str]]]:
    me = h.tokens.provider("p1")
    now = h.clock.now.isoformat()
    reason = {"reason": "a long enough written reason"}
    return [
        ("POST", "/v1/providers", application(), h.tokens.provider("p-new")),
        (
            "PUT",
            "/v1/providers/p1/availability",
            {
                "on_duty": True,
                "weekly_schedule": [{"weekday": 0, "start": "08:00", "end": "10:00"}],
                "travel_radius_km": 5,
                "weekly_hours_target": 20,
            },
            me,
        ),
        ("PUT", "/v1/providers/p1/position", {"lat": 45.0, "lng": 4.0, "recorded_at": now}, me),
        (
            "POST",
            "/v1/providers/p1/documents",
            {"kind": "insurance", "reference": "r", "expires_at": now, "category": "cleaning"},
            me,
        ),
        ("POST", "/v1/providers/p1/suspend", reason, h.ops),
        ("POST", "/v1/providers/p1/reinstate", reason, h.ops),
        ("POST", "/v1/providers/p1/reviews", {"decision_id": "d1", "message": "please review it"}, me),
        ("POST", "/v1/providers/p1/trainings", {"module_id": "m1", "completed_at": now, "score": 50}, me),
        ("POST", "/v1/providers/p1/absences", {"start_at": now, "end_at": now, "reason": "strike"}, me),
        (
            "POST",
            "/v1/providers/p1/recommendations/r1/decision",
            {"confirm": True, "reason": "x" * 12, "module_id": "m", "due_days": 3},
            h.ops,
        ),
        ("PUT", "/v1/providers/p1/declared-activity", {"year": 2026, "turnover_cents": 100}, me),
        ("PUT", "/v1/providers/reputation-policy", {"threshold": 3.0, "min_count": 5, "window": 10}, h.ops),
        ("POST", "/v1/providers/records/verify", {"signature": "abc", "record": {"a": 1}}, {}),
        (
            "POST",
            "/v1/vetting/p1/checks",
            {
                "kind": "insurance",
                "outcome": "passed",
                "evidence_ref": "x",
                "expires_at": now,
                "category": "cleaning",
                "note": "",
                "document_id": "d1",
            },
            h.ops,
        ),
        ("POST", "/v1/vetting/p1/approve", {"reason": "ok"}, h.ops),
        ("POST", "/v1/vetting/p2/reject", reason, h.ops),
        ("POST", "/v1/vetting/reviews/r1/answer", {"answer": "x" * 20, "outcome": "upheld"}, h.ops),
        (
            "POST",
            "/v1/trainings/modules",
            {"code": "abc", "title": "T", "validity_days": 10, "min_score": 50},
            h.ops,
        ),
        ("PUT", "/v1/trainings/requirements/cleaning", {"module_ids": ["x"]}, h.ops),
        (
            "POST",
            "/v1/bonus-rules",
            {"name": "n", "min_missions": 1, "amount_cents": 1, "min_rating": 4, "peak_supplement_cents": 0},
            h.ops,
        ),
        ("PATCH", "/v1/bonus-rules/b1", {"is_active": True}, h.ops),
        ("PATCH", "/v1/trainings/modules/m1", {"title": "t", "validity_days": 3, "min_score": 5}, h.ops),
        ("POST", "/v1/providers/p1/offboard", reason, h.ops),
    ]


async def test_no_500_from_any_body(h: Harness) -> None:
    await h.activate("p1")
    await h.apply("p2")
    rng = random.Random(20261126)
    seen: set[int] = set()
    for method, path, valid, headers in endpoints(h):
        cases: list[bytes] = list(RAW_BODIES)
        for field in valid:
            for value in GARBAGE:
                cases.append(json.dumps({**valid, field: value}).encode())
        for _ in range(20):  # random field drops and type swaps
            body = {k: v for k, v in valid.items() if rng.random() > 0.3}
            for key in list(body):
                if rng.random() < 0.3:
                    body[key] = rng.choice(GARBAGE)
            cases.append(json.dumps(body).encode())
        for content in cases:
            response = await h.http.request(
                method, path, content=content, headers={**headers, "Content-Type": "application/json"}
            )
            seen.add(response.status_code)
            assert response.status_code < 500, (method, path, content[:200], response.text)
    assert {401, 403} & seen or 422 in seen


async def test_garbage_in_paths_and_queries(h: Harness) -> None:
    await h.activate("p1")
    for path in (
        "/v1/providers/" + "x" * 300,
        "/v1/providers/%00",
        "/v1/providers?status=nope",
        "/v1/vetting/audit?limit=-1",
        "/v1/vetting/audit?limit=abc",
        "/v1/providers/p1/turnover-watch?year=99999",
        "/v1/vetting/reviews?overdue_only=maybe",
    ):
        response = await h.http.get(path, headers=h.ops)
        assert response.status_code in (404, 422), (path, response.status_code)
