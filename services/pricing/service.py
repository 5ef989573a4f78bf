"""Use cases of the pricing service: each one unit of work (load, decide, persist, events, commit)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR
from typing import Any

from services.pricing import views
from services.pricing.config import PricingSettings
from services.pricing.domain.fairpay import FloorViolation, check_grid, worst_net_hourly
from services.pricing.domain.grid import (
    Grid,
    compare_payouts,
    diff_grids,
    grid_from_cells,
    payout_decreases,
)
from services.pricing.domain.quote import price_mission
from services.pricing.domain.zones import Zone, check_no_overlap, normalise_entries, resolve_postcode
from services.pricing.errors import (
    GridNotEditable,
    GridNotFound,
    NotServed,
    QuoteExpired,
    QuoteNotFound,
    ZoneNotFound,
)
from services.pricing.geo import CommuneIndex, outline_of
from services.pricing.models import AuditRow, GridCommentRow, GridRow, QuoteRow, ZoneRow
from services.pricing.repository import PricingRepository
from shared.auth import Principal
from shared.categories import CATEGORIES
from shared.db import Database
from shared.errors import Conflict, Invalid, Unavailable
from shared.events.pricing import GridPublished, PayoutChange
from shared.fairpay import FairPaySettings
from shared.ids import new_id


def zone_of(row: ZoneRow) -> Zone:
    return Zone(row.code, row.name, tuple(row.postcodes))


def grid_of(row: GridRow) -> Grid:
    return grid_from_cells(row.cells)


def record_decision(
    repo: PricingRepository,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Append an ops decision to the audit log, in the caller's transaction."""
    repo.add(
        AuditRow(
            id=new_id(),
            at=at,
            actor=actor,
            action=action,
            subject=subject,
            reason=reason,
            details=details or {},
        )
    )


def violations_body(violations: Sequence[FloorViolation]) -> list[dict[str, Any]]:
    return [
        {
            "category": v.category,
            "zone": v.zone,
            "net_hourly_cents": v.net_hourly_cents,
            "floor_cents_per_hour": v.floor_cents_per_hour,
            "shortfall_cents_per_hour": v.shortfall_cents_per_hour,
        }
        for v in violations
    ]


def cells_body(grid: Grid, fair_pay: FairPaySettings) -> list[dict[str, Any]]:
    """Every cell's worst-case net hourly pay beside the floor (what the floor check decides on)."""
    rows = []
    for cell in grid.cells:
        worst = worst_net_hourly(cell, fair_pay.contribution_rate)
        rows.append(
            {
                "category": cell.category,
                "zone": cell.zone,
                "net_hourly_cents": int(worst.to_integral_value(rounding=ROUND_FLOOR)),
                "floor_cents_per_hour": fair_pay.floor_cents_per_hour,
                "is_below_floor": worst < fair_pay.floor_cents_per_hour,
            }
        )
    return rows


class PricingService:
    """The use cases, sharing the service's database, settings and clock."""

    def __init__(self, database: Database, settings: PricingSettings, clock: Callable[[], datetime]) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.communes = CommuneIndex(settings.communes_csv)
        # Published versions are immutable: their parsed cells can be kept for quoting.
        self._published: dict[int, Grid] = {}
        # Every quote resolves its zone: the zones, parsed, with the stamp they were read at.
        self._zones_cache: tuple[tuple[int, datetime | None], list[Zone]] | None = None

    async def published_grid(self, repo: PricingRepository, version: int) -> Grid:
        """Return a published version's grid, parsed once (published versions never change)."""
        grid = self._published.get(version)
        if grid is None:
            row = await repo.grid_version(version)
            if row is None:
                raise GridNotFound(f"no published version {version}")
            if len(self._published) >= 256:
                self._published.clear()
            grid = self._published[version] = grid_of(row)
        return grid

    async def _zones(self, repo: PricingRepository, stamp: tuple[int, datetime | None]) -> list[Zone]:
        """Return every zone, parsed again only when the zones' stamp has moved (any process)."""
        if self._zones_cache is None or self._zones_cache[0] != stamp:
            self._zones_cache = (stamp, [zone_of(r) for r in await repo.zones()])
        return self._zones_cache[1]

    # ---------------------------------------------------------------- zones

    async def create_zone(
        self, actor: Principal, code: str, name: str, postcodes: Sequence[str]
    ) -> dict[str, Any]:
        """Define a served zone; refuse a code in use or a postcode another zone holds."""
        zone = Zone(code, name, normalise_entries(postcodes))
        async with self.database.unit_of_work() as uow:
            repo = PricingRepository(uow.session)
            if await repo.zone(code) is not None:
                raise Conflict(f"zone {code} already exists", field="code")
            check_no_overlap(zone, [zone_of(r) for r in await repo.zones()])
            now = self.clock()
            row = ZoneRow(
                code=code, name=name, postcodes=list(zone.postcodes), created_at=now, updated_at=now
            )
            repo.add(row)
            record_decision(
                repo,
                now,
                actor.subject,
                "zone-created",
                code,
                details={"name": name, "postcodes": list(zone.postcodes)},
            )
            await uow.commit()
            return views.zone_view(row)

    async def update_zone(
        self, actor: Principal, code: str, name: str | None, postcodes: Sequence[str] | None
    ) -> dict[str, Any]:
        """Rename a zone or change its postcodes, still refusing overlaps."""
        async with self.database.unit_of_work() as uow:
            repo = PricingRepository(uow.session)
            row = await repo.zone(code)
            if row is None:
                raise ZoneNotFound(f"no zone {code}")
            entries = normalise_entries(postcodes) if postcodes is not None else tuple(row.postcodes)
            zone = Zone(code, name or row.name, entries)
            check_no_overlap(zone, [zone_of(r) for r in await repo.zones()])
            before = {"name": row.name, "postcodes": list(row.postcodes)}
            row.name, row.postcodes, row.updated_at = zone.name, list(zone.postcodes), self.clock()
            record_decision(
                repo,
                self.clock(),
                actor.subject,
                "zone-updated",
                code,
                details={"before": before, "after": {"name": zone.name, "postcodes": list(zone.postcodes)}},
            )
            await uow.commit()
            return views.zone_view(row)

    async def delete_zone(self, actor: Principal, code: str) -> None:
        """Remove a zone no grid refers to."""
        async with self.database.unit_of_work() as uow:
            repo = PricingRepository(uow.session)
            row = await repo.zone(code)
            if row is None:
                raise ZoneNotFound(f"no zone {code}")
            users = await repo.grids_using_zone(code)
            if users:
                names = ", ".join(sorted(r.version and f"v{r.version}" or r.id for r in users))
                raise Conflict(f"zone {code} is used by grids {names}")
            record_decision(
                repo,
                self.clock(),
                actor.subject,
                "zone-deleted",
                code,
                details={"name": row.name, "postcodes": list(row.postcodes)},
            )
            await repo.delete(row)
            await uow.commit()

    async def list_zones(self) -> list[dict[str, Any]]:
        """Return every zone."""
        async with self.database.unit_of_work() as uow:
            return [views.zone_view(r) for r in await PricingRepository(uow.session).zones()]

    async def zone_geometry(self, zones: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add each zone's geometry (centre, outline of its communes' centres) for maps."""
        try:
            await self.communes.load()
        except Unavailable:
            return [{**z, "geometry": None} for z in zones]
        result = []
        for zone in zones:
            points = await asyncio.to_thread(self.communes.places, list(zone["postcodes"]))
            centre = (
                {
                    "lat": round(sum(p[0] for p in points) / len(points), 5),
                    "lng": round(sum(p[1] for p in points) / len(points), 5),
                }
                if points
                else None
            )
            outline = [{"lat": lat, "lng": lng} for lat, lng in outline_of(points)]
            geometry = {"centroid": centre, "outline": outline, "communes": len(points)}
            result.append({**zone, "geometry": geometry})
        return result

    async def get_zone(self, code: str) -> dict[str, Any]:
        """Return one zone."""
        async with self.database.unit_of_work() as uow:
            row = await PricingRepository(uow.session).zone(code)
            if row is None:
                raise ZoneNotFound(f"no zone {code}")
            return views.zone_view(row)

    async def postcode_for(self, lat: float, lng: float) -> str | None:
        """Return the postcode of the nearest commune to a position (None: too far from any)."""
        await self.communes.load()
        place = self.communes.nearest(lat, lng)
        return place.postcode if place else None

    async def _centroid(self, postcode: str) -> tuple[float | None, float | None]:
        """Return where a postcode is (its communes' centre), or nothing without the open data."""
        try:
            await self.communes.load()
            return self.communes.centroid(postcode) or (None, None)
        except Unavailable:
            return None, None

    async def resolve_zone(
        self, postcode: str | None, lat: float | None, lng: float | None
    ) -> dict[str, Any]:
        """Return the zone serving a postcode or a position, or NotServed."""
        field = "postcode"
        if postcode is None:
            if lat is None or lng is None:
                raise Invalid("give a postcode, or lat and lng", field=["query", "postcode"])
            field = "lat"
            postcode = await self.postcode_for(lat, lng)
            if postcode is None:
                raise NotServed("not served: no commune near this position", field=["query", "lat"])
        async with self.database.unit_of_work() as uow:
            zones = [zone_of(r) for r in await PricingRepository(uow.session).zones()]
        zone = resolve_postcode(postcode, zones)
        if zone is None:
            raise NotServed(f"not served: postcode {postcode} is in no zone", field=["query", field])
        return {"code": zone.code, "name": zone.name, "postcode": postcode}

    # ---------------------------------------------------------------- grids

    async def create_grid(
        self,
        actor: Principal,
        name: str,
        cells: Sequence[Mapping[str, Any]] | None,
        from_version: int | None = None,
    ) -> dict[str, Any]:
        """Start a draft grid from cells, or from a published version's cells."""
        async with self.database.unit_of_work() as uow:
            repo = PricingRepository(uow.session)
            if from_version is not None:
                source = await repo.grid_version(from_version)
                if source is None:
                    raise Invalid(f"no published version {from_version}", field="from_version")
                raw_cells: Sequence[Mapping[str, Any]] = cells if cells else source.cells
            else:
                raw_cells = cells or []
            known = {z.code for z in await repo.zones()}
            grid = grid_from_cells(raw_cells, known_zones=known)
            now = self.clock()
            row = GridRow(
                id=new_id(),
                name=name,
                status="draft",
                version=None,
                cells=grid.to_list(),
                created_by=actor.subject,
                created_at=now,
                updated_at=now,
                payout_decreases=[],
            )
            repo.add(row)
            record_decision(
                repo,
                now,
                actor.subject,
                "grid-created",
                row.id,
                details={"name": name, "from_version": from_version},
            )
            await uow.commit()
            return views.grid_view(row, now)

    async def update_grid(
        self, actor: Principal, grid_id: str, name: str | None, cells: Sequence[Mapping[str, Any]] | None
    ) -> dict[str, Any]:
        """Change a draft; a published version is immutable (409)."""
        async with self.database.unit_of_work() as uow:
            repo = PricingRepository(uow.session)
            row = await self._grid(repo, grid_id)
            if row.status != "draft":
                raise GridNotEditable(
                    f"grid {grid_id} is published as version {row.version}; start a new draft from it instead"
                )
            if cells is not None:
                known = {z.code for z in await repo.zones()}
                row.cells = grid_from_cells(cells, known_zones=known).to_list()
            if name is not None:
                row.name = name
            row.updated_at = self.clock()
            record_decision(
                repo,
                row.updated_at,
                actor.subject,
                "grid-edited",
                row.id,
                details={"name": row.name, "cell_count": len(row.cells)},
            )
            await uow.commit()
            return views.grid_view(row, self.clock())

    async def _grid(self, repo: PricingRepository, grid_id: str) -> GridRow:
        row = await repo.grid(grid_id)
        if row is None:
            raise GridNotFound(f"no grid {grid_id}")
        return row

    async def get_grid(self, principal: Principal, grid_id: str) -> dict[str, Any]:
        """Return a grid; providers see published versions only."""
        async with self.database.unit_of_work() as uow:
            repo = PricingRepository(uow.session)
            row = await self._readable_grid(repo, principal, grid_id)
            view = views.grid_view(row, self.clock())
            if principal.is_ops:  # ops read the providers' comments beside the grid
                view["comments"] = [views.comment_view(c) for c in await repo.comments(row.id)]
            return view

    async def _readable_grid(self, repo: PricingRepository, principal: Principal, grid_id: str) -> GridRow:
        row = await self._grid(repo, grid_id)
        if row.status == "draft" and not principal.is_ops:
            raise GridNotFound(f"no grid {grid_id}")
        return row

    async def get_version(self, version: int) -> dict[str, Any]:
        """Return a published version."""
        async with self.database.unit_of_work() as uow:
            row = await PricingRepository(uow.session).grid_version(version)
            if row is None:
                raise GridNotFound(f"no published version {version}")
            return views.grid_view(row, self.clock())

    async def grid_in_force(self) -> dict[str, Any]:
        """Return the version quotes use now."""
        async with self.database.unit_of_work() as uow:
            row = await PricingRepository(uow.session).grid_in_force(self.clock())
            if row is None:
                raise GridNotFound("no price grid is in force")
            return views.grid_view(row, self.clock())

    async def list_grids(self, principal: Principal, published_only: bool) -> list[dict[str, Any]]:
        """List drafts and versions (providers: versions only), newest first."""
        async with self.database.unit_of_work() as uow:
            rows = await PricingRepository(uow.session).grids(
                published_only=published_only or not principal.is_ops
            )
            now = self.clock()
            return [views.grid_summary(r, now) for r in rows]

    async def check_floor(self, grid_id: str) -> dict[str, Any]:
        """Say whether a grid may be published, with every cell below the floor."""
        async with self.database.unit_of_work() as uow:
            row = await self._grid(PricingRepository(uow.session), grid_id)
            violations = check_grid(grid_of(row), self.settings.fair_pay())
            return {
                "grid_id": row.id,
                "publishable": not violations,
                "floor_cents_per_hour": self.settings.floor_cents_per_hour,
                "contribution_rate": str(self.settings.contribution_rate),
                "offending_cells": violations_body(violations),
                "cells": cells_body(grid_of(row), self.settings.fair_pay()),
            }

    async def publish_grid(
        self, actor: Principal, grid_id: str, effective_at: datetime | None, reason: str
    ) -> dict[str, Any]:
        """Publish a draft as the next immutable version; refuse it below the floor (422)."""
        async with self.database.unit_of_work() as uow:
            repo = PricingRepository(uow.session)
            row = await self._grid(repo, grid_id)
            if row.status != "draft":
                raise GridNotEditable(f"grid {grid_id} is already published as version {row.version}")
            await self.publish_in(uow, repo, row, actor, effective_at, reason, rolled_back_from=None)
            await uow.commit()
            return views.grid_view(row, self.clock())

    async def rollback_to_version(
        self, actor: Principal, version: int, effective_at: datetime | None, reason: str
    ) -> dict[str, Any]:
        """Publish an earlier version's cells anew as the next version."""
        async with self.database.unit_of_work() as uow:
            repo = PricingRepository(uow.session)
            source = await repo.grid_version(version)
            if source is None:
                raise GridNotFound(f"no published version {version}")
            now = self.clock()
            row = GridRow(
                id=new_id(),
                name=f"{source.name} (rollback to v{version})",
                status="draft",
                version=None,
                cells=list(source.cells),
                created_by=actor.subject,
                created_at=now,
                updated_at=now,
                payout_decreases=[],
            )
            repo.add(row)
            await self.publish_in(uow, repo, row, actor, effective_at, reason, rolled_back_from=version)
            await uow.commit()
            return views.grid_view(row, now)

    async def publish_in(
        self,
        uow: Any,
        repo: PricingRepository,
        row: GridRow,
        actor: Principal,
        effective_at: datetime | None,
        reason: str,
        rolled_back_from: int | None,
    ) -> None:
        """Publish `row` inside the caller's unit of work (floor check, notice period, event)."""
        grid = grid_of(row)
        if not grid.cells:
            raise Invalid("a grid needs at least one cell to be published", field="cells")
        known = {z.code for z in await repo.zones()}
        missing = sorted({c.zone for c in grid.cells} - known)
        if missing:
            raise Invalid(f"cells refer to unknown zones {missing}", field="cells")
        violations = check_grid(grid, self.settings.fair_pay())
        if violations:
            raise Invalid(
                f"{len(violations)} cell(s) pay less than the fair-pay floor of "
                f"{self.settings.floor_cents_per_hour / 100:.2f} €/h net; nothing was published",
                field="cells",
                extra={"offending_cells": violations_body(violations)},
            )
        now = self.clock()
        if effective_at is not None and effective_at < now - timedelta(minutes=1):
            raise Invalid("effective_at may not be in the past", field="effective_at")
        current = await repo.grid_in_force(now)
        decreases = payout_decreases(grid_of(current) if current else None, grid)
        effective = max(effective_at or now, now)
        if decreases:
            effective = max(effective, now + timedelta(days=self.settings.notice_period_days))
        row.version = await repo.latest_version() + 1
        row.status = "published"
        row.published_by = actor.subject
        row.published_at = now
        row.effective_at = effective
        row.publish_reason = reason
        row.rolled_back_from = rolled_back_from
        row.payout_decreases = [
            {
                "category": d.category,
                "zone": d.zone,
                "old_payout_cents_per_hour": d.old_payout_cents_per_hour,
                "new_payout_cents_per_hour": d.new_payout_cents_per_hour,
            }
            for d in decreases
        ]
        row.updated_at = now
        record_decision(
            repo,
            now,
            actor.subject,
            "grid-rolled-back" if rolled_back_from else "grid-published",
            row.id,
            reason=reason,
            details={
                "version": row.version,
                "effective_at": views.iso(effective),
                "rolled_back_from": rolled_back_from,
                "payout_decreases": row.payout_decreases,
            },
        )
        await repo.flush()
        uow.add_event(
            GridPublished(
                grid_id=row.id,
                version=row.version,
                published_by=actor.subject,
                published_at=now,
                effective_at=effective,
                payout_decreases=[PayoutChange(**d) for d in row.payout_decreases],
            )
        )

    async def diff_versions(self, a: int, b: int) -> dict[str, Any]:
        """Return the cells that differ from version a to version b."""
        async with self.database.unit_of_work() as uow:
            repo = PricingRepository(uow.session)
            old, new = await repo.grid_version(a), await repo.grid_version(b)
            for v, row in ((a, old), (b, new)):
                if row is None:
                    raise GridNotFound(f"no published version {v}")
            assert old is not None and new is not None
            changes = diff_grids(grid_of(old), grid_of(new))
            return {
                "from_version": a,
                "to_version": b,
                "changes": [
                    {
                        "category": c.category,
                        "zone": c.zone,
                        "change": "added"
                        if c.before is None
                        else "removed"
                        if c.after is None
                        else "changed",
                        "fields": list(c.changed_fields),
                        "before": c.before,
                        "after": c.after,
                    }
                    for c in changes
                ],
            }

    async def payout_changes(self, principal: Principal, grid_id: str) -> dict[str, Any]:
        """Show each cell's hourly payout in force now beside the grid's, for consultation."""
        async with self.database.unit_of_work() as uow:
            repo = PricingRepository(uow.session)
            row = await self._readable_grid(repo, principal, grid_id)
            now = self.clock()
            current = await repo.grid_in_force(now)
            if current is not None and current.id == row.id:
                base_row = await self._previous_version(repo, row)
            else:
                base_row = current
            rows = compare_payouts(grid_of(base_row) if base_row else None, grid_of(row))
            return {
                "grid_id": row.id,
                "version": row.version,
                "compared_with_version": base_row.version if base_row else None,
                "effective_at": views.iso(row.effective_at),
                "cells": [
                    {
                        "category": r.category,
                        "zone": r.zone,
                        "old_payout_cents_per_hour": r.old_payout_cents_per_hour,
                        "new_payout_cents_per_hour": r.new_payout_cents_per_hour,
                        "is_decrease": r.is_decrease,
                    }
                    for r in rows
                ],
            }

    async def _previous_version(self, repo: PricingRepository, row: GridRow) -> GridRow | None:
        """Return the version just before `row` (what it replaced)."""
        if row.version is None or row.version <= 1:
            return None
        return await repo.grid_version(row.version - 1)

    async def add_comment(
        self, principal: Principal, grid_id: str, body: str, category: str | None, zone: str | None
    ) -> dict[str, Any]:
        """Leave a comment on a grid under consultation (a draft or a version not yet in force)."""
        async with self.database.unit_of_work() as uow:
            repo = PricingRepository(uow.session)
            row = await self._readable_grid(repo, principal, grid_id)
            now = self.clock()
            if row.status != "draft" and row.effective_at is not None and row.effective_at <= now:
                raise Conflict(f"version {row.version} is already in force; consultation is closed")
            if category is not None and category not in CATEGORIES:
                raise Invalid(f"unknown category {category!r}", field="category")
            comment = GridCommentRow(
                id=new_id(),
                grid_id=row.id,
                author_id=principal.subject,
                author_role=principal.role.value,
                category=category,
                zone=zone,
                body=body,
                created_at=now,
            )
            repo.add(comment)
            await uow.commit()
            return views.comment_view(comment)

    async def list_comments(self, principal: Principal, grid_id: str) -> list[dict[str, Any]]:
        """Return a grid's comments: all of them to ops, their own to a provider."""
        async with self.database.unit_of_work() as uow:
            repo = PricingRepository(uow.session)
            row = await self._readable_grid(repo, principal, grid_id)
            author = None if principal.is_ops else principal.subject
            return [views.comment_view(c) for c in await repo.comments(row.id, author)]

    async def export_grid(self, principal: Principal, grid_id: str) -> dict[str, Any]:
        """Return a grid's data for export."""
        async with self.database.unit_of_work() as uow:
            row = await self._readable_grid(PricingRepository(uow.session), principal, grid_id)
            return {"name": row.name, "version": row.version, "cells": row.cells}

    # ---------------------------------------------------------------- quotes

    async def create_quote(
        self,
        client_id: str | None,
        category: str,
        postcode: str | None,
        lat: float | None,
        lng: float | None,
        start_at: datetime,
        duration_min: int,
    ) -> dict[str, Any]:
        """Price a mission with the grid in force, store the quote and return it."""
        if category not in CATEGORIES:
            raise Invalid(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}", field="category")
        now = self.clock()
        if start_at < now:
            raise Invalid("start_at is in the past", field="start_at")
        if start_at > now + timedelta(days=self.settings.max_quote_ahead_days):
            raise Invalid(
                f"start_at is more than {self.settings.max_quote_ahead_days} days ahead", field="start_at"
            )
        zone_field = "postcode"
        if lat is None or lng is None:
            assert postcode is not None
            lat, lng = await self._centroid(postcode)
        if postcode is None:
            assert lat is not None and lng is not None
            zone_field = "lat"
            postcode = await self.postcode_for(lat, lng)
            if postcode is None:
                raise Invalid("unknown zone: not served (no commune near this position)", field="lat")
        async with self.database.unit_of_work() as uow:
            repo = PricingRepository(uow.session)
            version, stamp = await repo.quoting_state(now)
            zone = resolve_postcode(postcode, await self._zones(repo, stamp))
            if zone is None:
                raise Invalid(f"unknown zone: postcode {postcode} is not served", field=zone_field)
            if version is None:
                raise Unavailable("no price grid is in force yet")
            cell = (await self.published_grid(repo, version)).cell(category, zone.code)
            if cell is None:
                raise Invalid(f"{category} is not offered in zone {zone.code}", field="category")
            price = price_mission(
                cell, start_at, duration_min, now, self.settings.time_rules(), self.settings.tax_rules()
            )
            row = QuoteRow(
                id=new_id(),
                category=category,
                zone=zone.code,
                postcode=postcode,
                lat=lat,
                lng=lng,
                start_at=start_at,
                duration_min=duration_min,
                price_cents=price.price_cents,
                payout_cents=price.payout_cents,
                commission_cents=price.commission_cents,
                grid_version=version,
                quoted_at=now,
                expires_at=now + timedelta(minutes=self.settings.quote_ttl_min),
                client_id=client_id,
                breakdown=price.breakdown(),
                tax_credit=views.tax_credit_view(price.tax_credit),
            )
            repo.add(row)
            await uow.commit()
            return views.quote_view(row)

    async def get_quote(self, quote_id: str) -> dict[str, Any]:
        """Return a quote; 404 unknown, 410 expired."""
        async with self.database.unit_of_work() as uow:
            row = await PricingRepository(uow.session).quote(quote_id)
            if row is None:
                raise QuoteNotFound(f"no quote {quote_id}", field=["path", "quote_id"])
            if row.expires_at <= self.clock():
                raise QuoteExpired(
                    f"quote {quote_id} expired at {views.iso(row.expires_at)}; ask for a new one",
                    field=["path", "quote_id"],
                    extra={"expired_at": views.iso(row.expires_at)},
                )
            return views.quote_view(row)

    async def get_quotes(self, quote_ids: list[str]) -> dict[str, Any]:
        """Return the known quotes among the ids, and which of them have expired by this
        service's clock; unknown ids are left out. One read for many: orders batches its lookups."""
        async with self.database.unit_of_work() as uow:
            rows = await PricingRepository(uow.session).quotes(list(dict.fromkeys(quote_ids)))
            now = self.clock()
            return {
                "quotes": [views.quote_view(row) for row in rows],
                "expired": [row.id for row in rows if row.expires_at <= now],
            }

    async def audit_log(self, subject: str | None) -> list[dict[str, Any]]:
        """Return the latest ops decisions on zones and grids (who, when, what, why)."""
        async with self.database.unit_of_work() as uow:
            rows = await PricingRepository(uow.session).audit(subject)
            return [views.audit_view(r) for r in rows]
