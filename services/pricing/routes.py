"""HTTP routes of the pricing service: parse, call a use case, answer; no SQL, no commit."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from services.pricing import render
from services.pricing.payouts import LedgerService
from services.pricing.schemas import (
    NO_NUL,
    CommentCreate,
    GridCreate,
    GridPublish,
    GridUpdate,
    QuoteBatch,
    QuoteCreate,
    QuoteRead,
    ZoneCreate,
    ZoneRead,
    ZoneUpdate,
)
from services.pricing.service import PricingService
from shared.auth import OpsUser, ProviderOrOps, Role, decode_token, token_settings_of
from shared.errors import Invalid

MAX_IMPORT_BYTES = 5 * 1024 * 1024


def pricing_service(request: Request) -> PricingService:
    """Return the pricing use cases of the running component."""
    service: PricingService = request.app.state.components["pricing"].service
    return service


def ledger_service(request: Request) -> LedgerService:
    """Return the ledger use cases of the running component."""
    service: LedgerService = request.app.state.components["pricing"].ledger
    return service


PricingDep = Annotated[PricingService, Depends(pricing_service)]
LedgerDep = Annotated[LedgerService, Depends(ledger_service)]
_optional_bearer = HTTPBearer(auto_error=False)
GridId = Annotated[str, Path(pattern=NO_NUL, min_length=1, max_length=64)]
Format = Literal["json", "csv", "pdf"]

zones = APIRouter(prefix="/v1/zones", tags=["zones"])
grids = APIRouter(prefix="/v1/price-grids", tags=["price grids"])
quotes = APIRouter(prefix="/v1/quotes", tags=["quotes"])
payouts = APIRouter(prefix="/v1/payouts", tags=["payouts"])
statements = APIRouter(prefix="/v1/statements", tags=["statements"])


# ------------------------------------------------------------------ zones


@zones.get("", response_model=list[ZoneRead], response_model_exclude_none=True)
async def list_zones(service: PricingDep, with_geometry: bool = False) -> list[dict[str, Any]]:
    """List the served zones (with_geometry: each zone's centre and outline, for maps)."""
    zones = await service.list_zones()
    return await service.zone_geometry(zones) if with_geometry else zones


@zones.get("/resolve")
async def resolve_zone(
    service: PricingDep,
    postcode: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90, allow_inf_nan=False)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180, allow_inf_nan=False)] = None,
) -> dict[str, Any]:
    """Return the zone serving a postcode or a position; 404 "not served" otherwise."""
    return await service.resolve_zone(postcode, lat, lng)


@zones.post("", response_model=ZoneRead, status_code=201)
async def create_zone(body: ZoneCreate, principal: OpsUser, service: PricingDep) -> dict[str, Any]:
    """Define a zone (ops); a postcode entry another zone holds is refused (409)."""
    return await service.create_zone(principal, body.code, body.name, body.postcodes)


@zones.get("/{code}", response_model=ZoneRead)
async def get_zone(
    code: Annotated[str, Path(pattern=NO_NUL, max_length=64)], service: PricingDep
) -> dict[str, Any]:
    """Return one zone."""
    return await service.get_zone(code)


@zones.put("/{code}", response_model=ZoneRead)
async def update_zone(
    code: Annotated[str, Path(pattern=NO_NUL, max_length=64)],
    body: ZoneUpdate,
    principal: OpsUser,
    service: PricingDep,
) -> dict[str, Any]:
    """Rename a zone or change its postcodes (ops)."""
    return await service.update_zone(principal, code, body.name, body.postcodes)


@zones.delete("/{code}", status_code=204)
async def delete_zone(
    code: Annotated[str, Path(pattern=NO_NUL, max_length=64)], principal: OpsUser, service: PricingDep
) -> Response:
    """Remove a zone no grid uses (ops)."""
    await service.delete_zone(principal, code)
    return Response(status_code=204)


# ------------------------------------------------------------------ grids


@grids.get("")
async def list_grids(
    principal: ProviderOrOps, service: PricingDep, published_only: bool = False
) -> list[dict[str, Any]]:
    """List drafts and published versions, newest first (providers: versions only)."""
    return await service.list_grids(principal, published_only)


@grids.post("", status_code=201)
async def create_grid(body: GridCreate, principal: OpsUser, service: PricingDep) -> dict[str, Any]:
    """Start a draft grid (ops), from cells or from a published version."""
    cells = [c.plain() for c in body.cells]
    return await service.create_grid(principal, body.name, cells or None, body.from_version)


@grids.post("/import", status_code=201)
async def import_grid(
    request: Request,
    principal: OpsUser,
    service: PricingDep,
    name: Annotated[str, Query(pattern=NO_NUL, min_length=1, max_length=200)] = "imported grid",
    format: Annotated[Literal["json", "csv"], Query()] = "csv",
) -> dict[str, Any]:
    """Create a draft from a JSON or CSV file (ops; the same formats as export)."""
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise Invalid("file too large (5 MB at most)", field="body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid("the file must be UTF-8", field="body") from exc
    if format == "csv":
        data: Any = {"name": name, "cells": render.grid_from_csv(text)}
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise Invalid(f"not JSON: {exc}", field="body") from exc
        if not isinstance(data, dict):
            raise Invalid("expected an object with name and cells", field="body")
        data = {"name": data.get("name") or name, "cells": data.get("cells")}
    try:
        body = GridCreate.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise Invalid(f"{where}: {first['msg']}", field=where or "body") from exc
    return await service.create_grid(principal, body.name, [c.plain() for c in body.cells] or None)


@grids.get("/audit")
async def audit_log(
    _: OpsUser,
    service: PricingDep,
    subject: Annotated[str | None, Query(pattern=NO_NUL, max_length=100)] = None,
) -> list[dict[str, Any]]:
    """Return the ops decisions on zones and grids, newest first (ops): who, when, what, why."""
    return await service.audit_log(subject)


@grids.get("/current")
async def grid_in_force(_: ProviderOrOps, service: PricingDep) -> dict[str, Any]:
    """Return the version quotes use now."""
    return await service.grid_in_force()


@grids.get("/versions/{version}")
async def get_version(
    version: Annotated[int, Path(ge=1)], _: ProviderOrOps, service: PricingDep
) -> dict[str, Any]:
    """Return a published version."""
    return await service.get_version(version)


@grids.get("/versions/{a}/diff/{b}")
async def diff_versions(
    a: Annotated[int, Path(ge=1)], b: Annotated[int, Path(ge=1)], _: ProviderOrOps, service: PricingDep
) -> dict[str, Any]:
    """Return the cells added, removed or changed from version a to version b."""
    return await service.diff_versions(a, b)


@grids.post("/versions/{version}/rollback", status_code=201)
async def rollback(
    version: Annotated[int, Path(ge=1)], body: GridPublish, principal: OpsUser, service: PricingDep
) -> dict[str, Any]:
    """Publish an earlier version's cells anew as the next version (ops)."""
    return await service.rollback_to_version(principal, version, body.effective_at, body.reason)


@grids.get("/{grid_id}")
async def get_grid(grid_id: GridId, principal: ProviderOrOps, service: PricingDep) -> dict[str, Any]:
    """Return a grid with its cells (providers: published versions only)."""
    return await service.get_grid(principal, grid_id)


@grids.put("/{grid_id}")
async def update_grid(
    grid_id: GridId, body: GridUpdate, principal: OpsUser, service: PricingDep
) -> dict[str, Any]:
    """Change a draft (ops); a published version is immutable (409)."""
    cells = [c.plain() for c in body.cells] if body.cells is not None else None
    return await service.update_grid(principal, grid_id, body.name, cells)


@grids.get("/{grid_id}/floor-check")
async def floor_check(grid_id: GridId, _: OpsUser, service: PricingDep) -> dict[str, Any]:
    """Say whether a grid may be published, listing every cell below the fair-pay floor."""
    return await service.check_floor(grid_id)


@grids.post("/{grid_id}/publish")
async def publish_grid(
    grid_id: GridId, body: GridPublish, principal: OpsUser, service: PricingDep
) -> dict[str, Any]:
    """Publish a draft as the next version (ops); 422 with every offending cell below the floor."""
    return await service.publish_grid(principal, grid_id, body.effective_at, body.reason)


@grids.get("/{grid_id}/payout-changes")
async def payout_changes(grid_id: GridId, principal: ProviderOrOps, service: PricingDep) -> dict[str, Any]:
    """Show each cell's hourly payout now beside this grid's (consultation)."""
    return await service.payout_changes(principal, grid_id)


@grids.get("/{grid_id}/export")
async def export_grid(
    grid_id: GridId,
    principal: ProviderOrOps,
    service: PricingDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    """Download a grid as JSON or CSV (to edit in a spreadsheet and import back)."""
    data = await service.export_grid(principal, grid_id)
    if format == "csv":
        return Response(
            render.grid_to_csv(data["cells"]),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="grid-{grid_id}.csv"'},
        )
    return Response(json.dumps(data, indent=2), media_type="application/json")


@grids.post("/{grid_id}/comments", status_code=201)
async def add_comment(
    grid_id: GridId, body: CommentCreate, principal: ProviderOrOps, service: PricingDep
) -> dict[str, Any]:
    """Comment on a grid under consultation (providers and ops)."""
    return await service.add_comment(principal, grid_id, body.body, body.category, body.zone)


@grids.get("/{grid_id}/comments")
async def list_comments(
    grid_id: GridId, principal: ProviderOrOps, service: PricingDep
) -> list[dict[str, Any]]:
    """Read a grid's comments (ops: all; a provider: their own)."""
    return await service.list_comments(principal, grid_id)


# ------------------------------------------------------------------ quotes


@quotes.post("", response_model=QuoteRead, status_code=201)
async def create_quote(
    body: QuoteCreate,
    request: Request,
    service: PricingDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)],
) -> dict[str, Any]:
    """Quote a mission (public); with a client token the quote records the client."""
    client_id = None
    if credentials is not None:
        principal = decode_token(token_settings_of(request), credentials.credentials)
        if principal.role is Role.client:
            client_id = principal.subject
    return await service.create_quote(
        client_id, body.category, body.postcode, body.lat, body.lng, body.start_at, body.duration_min
    )


MAX_QUOTES_PER_READ = 100


@quotes.get("", response_model=QuoteBatch)
async def get_quotes(
    service: PricingDep,
    ids: Annotated[
        str, Query(pattern=r"^[^\x00]+$", min_length=1, description="comma-separated quote ids, at most 100")
    ],
) -> dict[str, Any]:
    """Return several quotes at once (public): the known ones, with the ids of those expired;
    unknown ids are left out. Orders fetches the quotes of concurrent orders in one request."""
    quote_ids = [q for q in ids.split(",") if q]
    if not quote_ids:
        raise Invalid("give at least one quote id", field=["query", "ids"])
    if len(quote_ids) > MAX_QUOTES_PER_READ:
        raise Invalid(f"at most {MAX_QUOTES_PER_READ} quote ids per request", field=["query", "ids"])
    return await service.get_quotes(quote_ids)


@quotes.get("/{quote_id}", response_model=QuoteRead)
async def get_quote(
    quote_id: Annotated[str, Path(pattern=NO_NUL, min_length=1, max_length=64)], service: PricingDep
) -> dict[str, Any]:
    """Return a quote (public); 404 unknown, 410 expired."""
    return await service.get_quote(quote_id)


# ------------------------------------------------------------------ payouts and statements


@payouts.get("")
async def list_payouts(
    principal: ProviderOrOps,
    ledger: LedgerDep,
    provider_id: Annotated[str | None, Query(pattern=NO_NUL, max_length=100)] = None,
    period: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
) -> dict[str, Any]:
    """Return a provider's ledger lines (a provider: their own; ops: any named provider)."""
    return await ledger.list_lines(principal, provider_id, period)


@payouts.get("/{entry_id}")
async def get_payout(
    entry_id: Annotated[str, Path(pattern=NO_NUL, max_length=64)], principal: ProviderOrOps, ledger: LedgerDep
) -> dict[str, Any]:
    """Return one ledger line."""
    return await ledger.get_line(principal, entry_id)


def _statement_response(statement: dict[str, Any], format: Format, name: str) -> Response:
    if format == "csv":
        text = (
            render.monthly_to_csv(statement)
            if statement["kind"] == "monthly"
            else render.annual_to_csv(statement)
        )
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "pdf":
        return Response(
            render.statement_to_pdf(statement),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    return Response(json.dumps(statement), media_type="application/json")


@statements.get("/{provider_id}/monthly/{period}")
async def monthly_statement(
    provider_id: Annotated[str, Path(pattern=NO_NUL, max_length=100)],
    period: Annotated[str, Path(pattern=r"^\d{4}-\d{2}$")],
    principal: ProviderOrOps,
    ledger: LedgerDep,
    format: Format = "json",
) -> Response:
    """Return a provider's monthly statement as JSON, CSV or PDF."""
    statement = await ledger.monthly(principal, provider_id, period)
    return _statement_response(statement, format, f"statement-{provider_id}-{period}")


@statements.get("/{provider_id}/annual/{year}")
async def annual_statement(
    provider_id: Annotated[str, Path(pattern=NO_NUL, max_length=100)],
    year: Annotated[int, Path(ge=2000, le=2100)],
    principal: ProviderOrOps,
    ledger: LedgerDep,
    format: Format = "json",
) -> Response:
    """Return a provider's annual income statement (DAC7 figures) as JSON, CSV or PDF."""
    statement = await ledger.annual(principal, provider_id, year)
    return _statement_response(statement, format, f"income-{provider_id}-{year}")


ROUTERS = [zones, grids, quotes, payouts, statements]
