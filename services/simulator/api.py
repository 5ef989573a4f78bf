"""The simulator's HTTP side: loopback-only base URL, locally minted tokens, bounded requests."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from shared.auth import Role, TokenSettings, issue_token
from shared.config import DEVELOPMENT_JWT_SECRET

RETRIED_STATUSES = frozenset({502, 503, 504})
Who = tuple[Role, str]  # the role and subject a request is made as


class SimulationError(RuntimeError):
    """The platform answered in a way the simulation cannot go on with."""


def check_loopback(base_url: str) -> str:
    """Return the base URL without a trailing slash; refuse anything but a loopback http URL."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base URL must be http(s)://host:port, not {base_url!r}")
    host = parts.hostname
    if host != "localhost":
        try:
            is_loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            is_loopback = False
        if not is_loopback:
            raise ValueError(f"the simulator only talks to a loopback address, not {host}")
    return base_url.rstrip("/")


def read_secret(secret_file: Path | None) -> str:
    """Return the JWT secret: from the file, else COUPDEMAIN_JWT_SECRET, else the development one."""
    if secret_file is not None:
        secret = secret_file.read_text(encoding="utf-8").strip()
        if not secret:
            raise ValueError(f"{secret_file} is empty")
        return secret
    return os.environ.get("COUPDEMAIN_JWT_SECRET") or DEVELOPMENT_JWT_SECRET


@dataclass
class Tokens:
    """Mints and caches bearer tokens the way the platform's login would issue them."""

    settings: TokenSettings
    _cache: dict[tuple[str, Role], str] = field(default_factory=dict)

    def headers(self, role: Role, subject: str) -> dict[str, str]:
        """Return the Authorization header for `subject` acting as `role`."""
        key = (subject, role)
        if key not in self._cache:
            self._cache[key] = issue_token(self.settings, subject, role, ttl_s=6 * 3600)
        return {"Authorization": f"Bearer {self._cache[key]}"}


@dataclass
class Stats:
    """Requests made, by outcome (for the report)."""

    requests: int = 0
    retries: int = 0
    durations_s: list[float] = field(default_factory=list)  # time of each answered request
    errors_by_status: dict[str, int] = field(default_factory=dict)

    def count_error(self, label: str) -> None:
        self.errors_by_status[label] = self.errors_by_status.get(label, 0) + 1


class Api:
    """A bounded HTTP client: at most `concurrency` requests in flight, retries on 502-504."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        tokens: Tokens,
        concurrency: int = 16,
        attempts: int = 3,
    ) -> None:
        self.client = client
        self.tokens = tokens
        self.stats = Stats()
        self._slots = asyncio.Semaphore(concurrency)
        self._attempts = attempts

    async def call(
        self,
        method: str,
        path: str,
        *,
        who: Who | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request (retried a bounded number of times on 502-504 or a transport error)."""
        all_headers = dict(headers or {})
        if who is not None:
            all_headers.update(self.tokens.headers(*who))
        last_error: Exception | None = None
        for attempt in range(self._attempts):
            if attempt:
                self.stats.retries += 1
                await asyncio.sleep(0.2 * 2**attempt)
            try:
                async with self._slots:
                    self.stats.requests += 1
                    sent = time.monotonic()
                    response = await self.client.request(
                        method, path, json=json, params=params, headers=all_headers
                    )
                    self.stats.durations_s.append(time.monotonic() - sent)
            except httpx.TransportError as exc:
                last_error = exc
                self.stats.count_error(type(exc).__name__)
                continue
            if response.status_code >= 400:
                self.stats.count_error(f"{response.status_code} {method} {path_template(path)}")
            if response.status_code not in RETRIED_STATUSES:
                return response
            last_error = SimulationError(f"{method} {path}: {response.status_code}")
        raise SimulationError(f"{method} {path} failed after {self._attempts} attempts: {last_error}")

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request that must succeed (2xx) and return its JSON (None when empty)."""
        response = await self.call(method, path, **kwargs)
        if response.status_code >= 300:
            raise SimulationError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None


def path_template(path: str) -> str:
    """Return a path with its ids replaced by {id}, to count errors per endpoint."""
    return "/".join("{id}" if _is_id(part) else part for part in path.split("/"))


def _is_id(part: str) -> bool:
    return len(part) >= 16 and part.isalnum() or part.startswith(("sim-", "demo-")) or part.isdigit()


def detail_of(response: httpx.Response) -> str:
    """Return a short reason from an error answer."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            if key in body:
                value = body[key]
                if isinstance(value, list):
                    return "; ".join(
                        str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in value
                    )[:200]
                return value if isinstance(value, str) else str(value)[:200]
    return str(body)[:200]
