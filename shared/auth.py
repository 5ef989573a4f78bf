"""Bearer tokens (JWT) with a subject and a role, and the FastAPI dependencies that enforce them."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.errors import Forbidden, Unauthorized


class Role(StrEnum):
    client = "client"
    provider = "provider"
    ops = "ops"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's subject and role."""

    subject: str
    role: Role

    @property
    def is_ops(self) -> bool:
        return self.role is Role.ops


@dataclass(frozen=True)
class TokenSettings:
    secret: str
    algorithm: str = "HS256"
    ttl_s: int = 12 * 3600
    issuer: str = "coupdemain"


def issue_token(
    settings: TokenSettings,
    subject: str,
    role: Role,
    *,
    ttl_s: int | None = None,
    now: datetime | None = None,
) -> str:
    """Mint a signed token for `subject` with `role`."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": subject,
        "role": role.value,
        "iss": settings.issuer,
        "iat": issued,
        "exp": issued + timedelta(seconds=ttl_s if ttl_s is not None else settings.ttl_s),
    }
    return jwt.encode(claims, settings.secret, algorithm=settings.algorithm)


class VerifiedTokens:
    """Tokens whose signature was already checked, with their expiry.

    An app sends the same token with every request, and checking an HMAC signature with
    pyjwt costs more CPU than the rest of a small request's authentication (profiled): a token
    seen before is trusted until its own expiry. Bounded; the oldest entries go first.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._seen: dict[tuple[TokenSettings, str], tuple[Principal, float]] = {}

    def get(self, settings: TokenSettings, token: str) -> Principal | None:
        hit = self._seen.get((settings, token))
        if hit is None or time.time() >= hit[1]:
            return None
        return hit[0]

    def put(self, settings: TokenSettings, token: str, principal: Principal, expires_at: float) -> None:
        if len(self._seen) >= self.size:
            del self._seen[next(iter(self._seen))]
        self._seen[(settings, token)] = (principal, expires_at)


_verified = VerifiedTokens()


def decode_token(settings: TokenSettings, token: str) -> Principal:
    """Verify a token and return its principal; Unauthorized when it is bad or expired."""
    known = _verified.get(settings, token)
    if known is not None:
        return known
    try:
        claims = jwt.decode(
            token,
            settings.secret,
            algorithms=[settings.algorithm],
            issuer=settings.issuer,
            options={"require": ["sub", "exp", "role"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("token expired", field=["header", "Authorization"]) from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}", field=["header", "Authorization"]) from exc
    try:
        role = Role(claims["role"])
    except ValueError as exc:
        raise Unauthorized("invalid token: unknown role", field=["header", "Authorization"]) from exc
    principal = Principal(subject=str(claims["sub"]), role=role)
    _verified.put(settings, token, principal, float(claims["exp"]))
    return principal


_bearer = HTTPBearer(auto_error=False, description="JWT bearer token (see `dispatch token`)")


def token_settings_of(request: Request) -> TokenSettings:
    """Return the token settings the app was built with."""
    settings: TokenSettings = request.app.state.token_settings
    return settings


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Return the caller's principal; 401 when no valid bearer token is given."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token", field=["header", "Authorization"])
    return decode_token(token_settings_of(request), credentials.credentials)


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """Build a dependency that lets only `roles` through (403 otherwise)."""
    allowed = frozenset(roles)

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"role {principal.role.value} may not do this (needs: {names})")
        return principal

    return dependency


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OpsUser = Annotated[Principal, Depends(require_roles(Role.ops))]
ProviderUser = Annotated[Principal, Depends(require_roles(Role.provider))]
ClientUser = Annotated[Principal, Depends(require_roles(Role.client))]
ProviderOrOps = Annotated[Principal, Depends(require_roles(Role.provider, Role.ops))]
ClientOrOps = Annotated[Principal, Depends(require_roles(Role.client, Role.ops))]
