"""Webhooks may not target the platform's own network (SSRF), unless the setting allows it."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import select

from services.orders.models import OrderHistory
from services.orders.notifications import (
    WebhookHostRefused,
    check_resolved_host,
    check_webhook_url,
    host_refusal,
)
from services.orders.schemas import WebhookUrl
from shared.config import PlatformSettings
from shared.db import wait_for
from shared.errors import Invalid
from shared.testing import Tokens
from tests.orders.support import Harness, PricingStub, harness
from tests.orders.unit.test_api_orders import confirm

INTERNAL = [
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://127.5.6.7/hook", "loopback"),
    ("http://2130706433/hook", "loopback"),  # 127.0.0.1 written as one number
    ("http://10.1.2.3/hook", "private"),
    ("http://172.16.0.9/hook", "private"),
    ("http://192.168.1.1/hook", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),  # the cloud metadata service
    ("http://[::1]:9000/hook", "loopback"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://[fd00::5]/hook", "private"),
    ("http://[::ffff:10.0.0.1]/hook", "private"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://100.64.0.1/hook", "reserved"),  # carrier-grade NAT
    ("http://localhost/hook", "localhost"),
    ("http://LOCALHOST./hook", "localhost"),
    ("http://api.localhost:8000/hook", "localhost"),
]
PUBLIC = [
    "https://hooks.example.com/orders",
    "http://93.184.215.14/hook",
    "https://[2606:4700:4700::1111]/hook",
    "https://localhost.example.com/hook",
]


class TestCheckWebhookUrl:
    @pytest.mark.parametrize(("url", "kind"), INTERNAL)
    def test_refuses_internal_hosts_by_default(self, url: str, kind: str) -> None:
        normalised = str(TypeAdapter(WebhookUrl).validate_python(url))  # as the route stores it
        with pytest.raises(Invalid) as refused:
            check_webhook_url(normalised, allow_private=False)
        assert refused.value.loc == ["body", "url"]
        assert kind in refused.value.message and "public host" in refused.value.message

    @pytest.mark.parametrize("url", PUBLIC)
    def test_accepts_public_hosts(self, url: str) -> None:
        check_webhook_url(url, allow_private=False)  # no exception

    @pytest.mark.parametrize(("url", "kind"), INTERNAL)
    def test_setting_allows_internal_hosts(self, url: str, kind: str) -> None:
        check_webhook_url(url, allow_private=True)

    def test_names_pass_until_resolved(self) -> None:
        assert host_refusal("intranet.corp") is None
        assert host_refusal("8.8.8.8") is None
        assert host_refusal("[::1]") == "a loopback address"


def resolving_to(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    """Make the event loop's resolver answer `addresses` for any name (no network)."""
    async def getaddrinfo(self: Any, host: str, port: int, **_: Any) -> list[Any]:
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port)) for a in addresses]
    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", getaddrinfo)


class TestCheckResolvedHost:
    async def test_refuses_a_name_resolving_inside(self, monkeypatch: pytest.MonkeyPatch) -> None:
        resolving_to(monkeypatch, "93.184.215.14", "10.0.0.7")
        with pytest.raises(WebhookHostRefused, match=r"resolves to 10\.0\.0\.7, a private address"):
            await check_resolved_host("https://hooks.example.com/h")

    async def test_refuses_an_ipv6_loopback_answer(self, monkeypatch: pytest.MonkeyPatch) -> None:
        resolving_to(monkeypatch, "::1")
        with pytest.raises(WebhookHostRefused, match="loopback"):
            await check_resolved_host("https://hooks.example.com/h")

    async def test_accepts_a_name_resolving_outside(self, monkeypatch: pytest.MonkeyPatch) -> None:
        resolving_to(monkeypatch, "93.184.215.14", "2606:4700:4700::1111")
        await check_resolved_host("https://hooks.example.com/h")

    async def test_refuses_a_literal_without_resolving(self) -> None:
        with pytest.raises(WebhookHostRefused, match="169.254.169.254 is a link-local address"):
            await check_resolved_host("http://169.254.169.254/latest")


@pytest.fixture
async def guarded(settings: PlatformSettings, pricing: PricingStub) -> Any:
    """The service with the production default: private hosts refused."""
    async with harness(settings, pricing, webhook_allow_private_hosts=False) as running:
        yield running


class TestWebhookSetting:
    @pytest.mark.parametrize("url", ["http://127.0.0.1:9/h", "http://10.0.0.1/h", "http://169.254.1.1/h",
                                     "http://[::1]/h", "http://localhost/h"])
    async def test_put_refuses_internal_hosts(self, guarded: Harness, tokens: Tokens, url: str) -> None:
        r = await guarded.http.put("/v1/orders/notification-webhook", json={"url": url},
                                   headers=tokens.client("c1"))
        assert r.status_code == 422, r.text
        detail = r.json()["detail"][0]
        assert detail["loc"] == ["body", "url"] and "public host" in detail["msg"]
        stored = await guarded.http.get("/v1/orders/notification-webhook", headers=tokens.client("c1"))
        assert stored.json() == {"url": None}

    @pytest.mark.parametrize("url", ["https://hooks.example.com/orders", "http://93.184.215.14/hook"])
    async def test_put_accepts_public_hosts(self, guarded: Harness, tokens: Tokens, url: str) -> None:
        r = await guarded.http.put("/v1/orders/notification-webhook", json={"url": url},
                                   headers=tokens.client("c1"))
        assert r.status_code == 200 and r.json() == {"url": url}

    async def test_sender_refuses_a_name_that_now_resolves_inside(
        self, guarded: Harness, tokens: Tokens, pricing: PricingStub, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A public name accepted when set, later pointed at the stub on 127.0.0.1: nothing sent."""
        port = pricing.url.rsplit(":", 1)[1]
        r = await guarded.http.put("/v1/orders/notification-webhook",
                                   json={"url": f"http://hooks.example.com:{port}/hooks/c1"},
                                   headers=tokens.client("c1"))
        assert r.status_code == 200
        resolving_to(monkeypatch, "127.0.0.1")
        await confirm(guarded, tokens, client="c1")

        async def settled() -> list[OrderHistory] | None:
            async with guarded.component.database.sessions() as session:
                rows = list(await session.scalars(select(OrderHistory)))
            return rows if rows and rows[0].notify_state != "pending" else None

        [row] = await wait_for(settled)
        state, attempts, error = row.notify_state, row.notify_attempts, row.notify_error
        assert state == "failed" and attempts == 0
        assert error == "webhook host hooks.example.com resolves to 127.0.0.1, a loopback address: not sent"
        assert pricing.hooks == []
