"""Errors that carry their HTTP status, and the one handler that renders them.

Domain and use-case code raises these; routes never build error responses.
The body shape matches FastAPI's own validation errors so that clients read
one format: {"detail": [{"loc": [...], "msg": "...", "type": "..."}]}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)


class DomainError(Exception):
    """Base class: an expected refusal with a status, a machine code and a message."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | Sequence[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if field is None:
            self.loc: list[str] = []
        elif isinstance(field, str):
            self.loc = ["body", *field.split(".")]
        else:
            self.loc = list(field)
        self.extra = extra or {}

    def to_body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"loc": self.loc, "msg": self.message, "type": self.code}
        item.update(self.extra)
        return {"detail": [item]}


class Invalid(DomainError):
    status_code = 422
    code = "invalid"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"

    def __init__(self, entity: str, current: str, action: str) -> None:
        super().__init__(
            f"cannot {action} a {entity} that is {current}",
            extra={"current_state": current},
        )


class Gone(DomainError):
    status_code = 410
    code = "gone"


class Unavailable(DomainError):
    status_code = 503
    code = "unavailable"


def install_error_handlers(app: FastAPI) -> None:
    """Render DomainError, validation errors and anything unexpected in one format."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(exc.to_body(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = {"detail": [{"loc": [], "msg": str(exc.detail), "type": "http_error"}]}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        refused = _refused_value(exc.orig)
        if refused is not None:
            return refused
        if not exc.connection_invalidated:
            return _internal_error(exc)
        # The server dropped a pooled connection (restart, failover): SQLAlchemy has
        # invalidated the pool, so the client's retry gets a fresh connection.
        log.warning("database_connection_lost", error=repr(exc.orig))
        return JSONResponse(Unavailable("the database connection was lost; retry").to_body(), 503)

    @app.exception_handler(asyncpg.ConnectionDoesNotExistError)
    async def _raw_connection(_: Request, exc: asyncpg.ConnectionDoesNotExistError) -> JSONResponse:
        # Same, on a raw asyncpg pool (orders' intake): asyncpg drops the broken connection.
        log.warning("database_connection_lost", error=repr(exc))
        return JSONResponse(Unavailable("the database connection was lost; retry").to_body(), 503)

    @app.exception_handler(asyncpg.DataError)
    async def _raw_data(_: Request, exc: asyncpg.DataError) -> JSONResponse:
        return _refused_value(exc) or _internal_error(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return _internal_error(exc)


def _refused_value(error: BaseException | None) -> JSONResponse | None:
    """A 422 for a value the database cannot store (SQLSTATE class 22), else None.

    Schemas refuse such values first, naming the field; this is the safety net for one they
    miss (a NUL character, a string longer than its column): the statement failed, its
    transaction rolled back, so the client hears why instead of a 500.
    """
    cause = getattr(error, "__cause__", None) or error  # SQLAlchemy wraps asyncpg's error
    sqlstate = getattr(error, "sqlstate", None) or getattr(cause, "sqlstate", None)
    if not isinstance(sqlstate, str) or not sqlstate.startswith("22"):
        return None
    message = str(getattr(cause, "message", None) or cause).splitlines()[0][:300]
    log.warning("database_refused_value", sqlstate=sqlstate, error=message)
    msg = f"a value cannot be stored: {message}"
    body = {"detail": [{"loc": ["body"], "msg": msg, "type": "value_error"}]}
    return JSONResponse(body, status_code=422)


def _internal_error(exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", error=repr(exc))
    body = {"detail": [{"loc": [], "msg": "internal error", "type": "internal"}]}
    return JSONResponse(body, status_code=500)
