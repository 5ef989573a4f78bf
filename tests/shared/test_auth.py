"""The auth dependencies: missing token 401, wrong role 403, expired token 401."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi import APIRouter, FastAPI

from shared.app import create_app
from shared.auth import (
    CurrentPrincipal,
    OpsUser,
    Principal,
    Role,
    TokenSettings,
    VerifiedTokens,
    issue_token,
)
from shared.bus.memory import InMemoryBus
from shared.component import Component
from shared.config import PlatformSettings
from shared.db import make_metadata
from shared.testing import Tokens, running_app


class EchoComponent(Component):
    name = "orders"
    metadata = make_metadata()

    def routers(self) -> list[APIRouter]:
        router = APIRouter()

        @router.get("/v1/whoami")
        async def whoami(principal: CurrentPrincipal) -> dict[str, str]:
            return {"subject": principal.subject, "role": principal.role.value}

        @router.get("/v1/ops-only")
        async def ops_only(principal: OpsUser) -> dict[str, str]:
            return {"subject": principal.subject}

        return [router]


@pytest.fixture
def app(settings: PlatformSettings) -> FastAPI:
    return create_app([EchoComponent(settings)], settings, bus=InMemoryBus())


async def test_missing_token_is_401_with_a_bearer_challenge(app: FastAPI) -> None:
    async with running_app(app) as http:
        response = await http.get("/v1/whoami")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"][0]["msg"] == "missing bearer token"


async def test_valid_token_names_subject_and_role(app: FastAPI, tokens: Tokens) -> None:
    async with running_app(app) as http:
        response = await http.get("/v1/whoami", headers=tokens.client("c-42"))
    assert response.status_code == 200
    assert response.json() == {"subject": "c-42", "role": "client"}


async def test_wrong_role_is_403(app: FastAPI, tokens: Tokens) -> None:
    async with running_app(app) as http:
        refused = await http.get("/v1/ops-only", headers=tokens.provider("p-1"))
        allowed = await http.get("/v1/ops-only", headers=tokens.ops("alice"))
    assert refused.status_code == 403
    assert "needs: ops" in refused.json()["detail"][0]["msg"]
    assert allowed.status_code == 200


async def test_expired_token_is_401(app: FastAPI, tokens: Tokens) -> None:
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    stale = issue_token(tokens.settings, "c-1", Role.client, now=two_hours_ago, ttl_s=60)
    async with running_app(app) as http:
        response = await http.get("/v1/whoami", headers={"Authorization": f"Bearer {stale}"})
    assert response.status_code == 401
    assert response.json()["detail"][0]["msg"] == "token expired"


async def test_token_signed_with_another_secret_is_401(app: FastAPI) -> None:
    forged = issue_token(TokenSettings(secret="x" * 40), "ops-1", Role.ops)
    async with running_app(app) as http:
        response = await http.get("/v1/ops-only", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert "invalid token" in response.json()["detail"][0]["msg"]


async def test_garbage_token_is_401(app: FastAPI) -> None:
    async with running_app(app) as http:
        response = await http.get("/v1/whoami", headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401


def test_distributed_mode_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COUPDEMAIN_ALLOW_DEV_SECRET", raising=False)
    with pytest.raises(ValueError, match="development secret is refused"):
        PlatformSettings(mode="distributed")
    assert PlatformSettings(mode="distributed", jwt_secret="s" * 40).jwt_secret == "s" * 40


async def test_a_token_verified_before_is_refused_once_it_expires(app: FastAPI, tokens: Tokens) -> None:
    # JWT expiries are whole seconds (truncated): 2 s leaves the first call at least 1 s.
    short = issue_token(tokens.settings, "c-7", Role.client, ttl_s=2)
    expires_at = jwt.decode(short, options={"verify_signature": False})["exp"]
    async with running_app(app) as http:
        first = await http.get("/v1/whoami", headers={"Authorization": f"Bearer {short}"})
        await asyncio.sleep(max(0.0, expires_at - time.time()) + 0.1)
        later = await http.get("/v1/whoami", headers={"Authorization": f"Bearer {short}"})
    assert first.status_code == 200
    assert later.status_code == 401 and later.json()["detail"][0]["msg"] == "token expired"


def test_the_verified_token_cache_is_bounded_and_keyed_by_secret() -> None:
    cache = VerifiedTokens(size=2)
    one, other = TokenSettings(secret="a" * 40), TokenSettings(secret="b" * 40)
    later = time.time() + 60
    for n in range(3):
        cache.put(one, f"t{n}", Principal(f"s{n}", Role.client), later)
    assert cache.get(one, "t0") is None  # the oldest went first
    assert cache.get(one, "t2") == Principal("s2", Role.client)
    assert cache.get(other, "t2") is None  # the same token under another secret is not trusted
    cache.put(one, "gone", Principal("s", Role.ops), time.time() - 1)
    assert cache.get(one, "gone") is None
