"""Test support every service's tests use: run an app in-process, mint tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from shared.auth import Role, TokenSettings, issue_token
from shared.config import DEVELOPMENT_JWT_SECRET


@asynccontextmanager
async def running_app(app: FastAPI, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and yield an httpx client talking to it in-process.

    The components' periodic jobs have each run once when the client is handed over.
    """
    async with app.router.lifespan_context(app):
        for component in getattr(app.state, "components", {}).values():
            await component.first_passes_done()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


class Tokens:
    """Mint bearer headers for tests: `tokens.ops()`, `tokens.client("c1")`."""

    def __init__(self, secret: str = DEVELOPMENT_JWT_SECRET) -> None:
        self.settings = TokenSettings(secret=secret)

    def header(self, role: Role, subject: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(self.settings, subject, role)}"}

    def ops(self, subject: str = "ops-1") -> dict[str, str]:
        return self.header(Role.ops, subject)

    def client(self, subject: str = "client-1") -> dict[str, str]:
        return self.header(Role.client, subject)

    def provider(self, subject: str = "provider-1") -> dict[str, str]:
        return self.header(Role.provider, subject)
