"""Use cases of application, profile, availability and seeding, and the steps all use cases share.

Each use case is one unit of work: load -> decide (domain) -> persist ->
events through `uow.add_event` -> one commit. Vetting and decisions live in
`vetting.py`, training and expiry in `training.py`, retention, reputation,
watches and the record export in `activity.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from services.providers import domain
from services.providers import models as m
from services.providers.availability import Slot, ensure_position_allowed, validate_schedule
from services.providers.config import ProvidersSettings
from services.providers.domain import (
    Evaluation,
    ModuleRequirement,
    ProviderStatus,
    Standing,
    SuspensionKind,
)
from services.providers.errors import AlreadyApplied, ProviderNotFound
from services.providers.repository import ProviderRepository
from services.providers.sirene import SireneClient
from services.providers.siret import validate_siret
from shared.auth import Principal
from shared.categories import is_known_category
from shared.db import Database, UnitOfWork
from shared.errors import Conflict, IllegalTransition, Invalid
from shared.events.providers import (
    AvailabilityChanged,
    PositionUpdated,
    ProviderActivated,
    ProviderSuspended,
    QualificationsChanged,
    WeeklySlot,
)
from shared.ids import new_id


@dataclass
class Context:
    """What use cases need: the database, the settings, the clock, optional registry client."""

    database: Database
    settings: ProvidersSettings
    clock: Callable[[], datetime]
    sirene: SireneClient | None = None

    @property
    def policy(self) -> domain.CompliancePolicy:
        return self.settings.compliance_policy()


@asynccontextmanager
async def read_only(database: Database) -> AsyncIterator[UnitOfWork]:
    """Open a unit of work for reading; what it loaded stays readable after it closes."""
    async with database.unit_of_work() as uow:
        yield uow
        uow.session.expunge_all()


async def commit_unique(uow: UnitOfWork, conflict: Conflict) -> None:
    """Commit; a concurrent twin that won the unique key becomes `conflict` (409), not a 500."""
    try:
        await uow.commit()
    except IntegrityError as exc:
        raise conflict from exc



# --- shared steps ---------------------------------------------------------------------------


async def load_own(repo: ProviderRepository, principal: Principal, provider_id: str) -> m.Provider:
    """Return the provider a principal may see: ops any, a provider only itself (else 404)."""
    if not principal.is_ops and principal.subject != provider_id:
        raise ProviderNotFound()
    provider = await repo.get(provider_id)
    if provider is None:
        raise ProviderNotFound()
    return provider


def standing_of(provider: m.Provider) -> Standing:
    suspension = SuspensionKind(provider.suspension) if provider.suspension else None
    return Standing(ProviderStatus(provider.status), suspension)


def set_standing(provider: m.Provider, standing: Standing, now: datetime) -> None:
    provider.status = standing.status.value
    provider.suspension = standing.suspension.value if standing.suspension else None
    provider.updated_at = now


async def evaluate_provider(
    repo: ProviderRepository,
    ctx: Context,
    provider: m.Provider,
    now: datetime,
    requirements: Mapping[str, Sequence[domain.ModuleRequirement]] | None = None,
) -> Evaluation:
    """Return what the provider is qualified for now, and what blocks the rest.

    `requirements`: the training requirements to judge by (a preview of a change to them);
    the current ones by default.
    """
    checks, completions, retrainings, registry = await repo.facts(provider)
    return domain.evaluate(
        categories=list(provider.categories),
        checks=checks,
        requirements=requirements if requirements is not None else await repo.requirements(),
        completions=completions,
        policy=ctx.policy,
        now=now,
        retrainings=retrainings,
        registry=registry,
        cumulative_payout_cents=await repo.cumulative_payout_cents(provider.id),
        urssaf_required_since=provider.urssaf_required_since,
    )


def activated_event(provider: m.Provider) -> ProviderActivated:
    return ProviderActivated(
        provider_id=provider.id,
        first_name=provider.first_name,
        categories=list(provider.qualified),
        home_lat=provider.home_lat,
        home_lng=provider.home_lng,
        postcode=provider.postcode,
        travel_radius_km=provider.travel_radius_km,
        weekly_hours_target=provider.weekly_hours_target,
        photo_ref=provider.photo_ref,
    )


def availability_event(provider: m.Provider) -> AvailabilityChanged:
    return AvailabilityChanged(
        provider_id=provider.id,
        on_duty=provider.on_duty,
        weekly_schedule=[WeeklySlot(**s) for s in provider.weekly_schedule],
        travel_radius_km=provider.travel_radius_km,
        weekly_hours_target=provider.weekly_hours_target,
    )


def go_off_duty(uow: UnitOfWork, provider: m.Provider) -> None:
    """Take the provider off duty and forget the position (none is kept off duty)."""
    was_on_duty = provider.on_duty
    provider.on_duty = False
    provider.position_lat = provider.position_lng = None
    provider.position_at = None
    if was_on_duty:
        uow.add_event(availability_event(provider))


def summarise(items: Sequence[domain.MissingItem]) -> str:
    return "; ".join(f"{i.item}: {i.reason}" for i in items)


async def reevaluate(
    uow: UnitOfWork, repo: ProviderRepository, ctx: Context, provider: m.Provider, reason: str, now: datetime
) -> Evaluation | None:
    """Recompute qualifications of a vetted provider; persist and announce what changed."""
    standing = standing_of(provider)
    if standing.status not in domain.VETTED_STATUSES:
        return None
    evaluation = await evaluate_provider(repo, ctx, provider, now)
    old = list(provider.qualified)
    new = list(evaluation.qualified)
    after = domain.follow_qualifications(standing, new)
    provider.qualified = new
    set_standing(provider, after, now)
    if after != standing and after.status is ProviderStatus.active:
        provider.activated_at = provider.activated_at or now
        uow.add_event(activated_event(provider))
    if after != standing and after.suspension is SuspensionKind.lapsed:
        go_off_duty(uow, provider)
        uow.add_event(
            ProviderSuspended(
                provider_id=provider.id,
                status=ProviderStatus.suspended.value,
                reason=f"no qualified category left: {summarise(evaluation.missing)}",
            )
        )
    if old != new or after != standing:
        lapsed = [c for c in old if c not in new]
        uow.add_event(
            QualificationsChanged(
                provider_id=provider.id,
                status=after.status.value,
                categories=new,
                lapsed=lapsed,
                reason=reason if not lapsed else f"{reason}: {summarise(evaluation.missing)}",
            )
        )
        repo.audit(
            now,
            "system",
            "qualifications_changed",
            provider_id=provider.id,
            reason=reason,
            details={"before": old, "after": new, "status": after.status.value},
        )
    return evaluation


# --- application ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationData:
    first_name: str
    last_name: str
    email: str
    phone: str
    date_of_birth: date
    nationality: str
    right_to_work_ref: str
    siret: str
    categories: list[str]
    address: str
    postcode: str
    home_lat: float
    home_lng: float
    travel_radius_km: float
    weekly_hours_target: float
    photo_ref: str | None = None


def validate_application(data: ApplicationData, now: datetime) -> str:
    """Check what pydantic cannot: SIRET checksum, categories, age; return the SIRET."""
    siret = validate_siret(data.siret)
    unknown = [c for c in data.categories if not is_known_category(c)]
    if unknown:
        raise Invalid(f"unknown categories: {', '.join(unknown)}", field="categories")
    if len(set(data.categories)) != len(data.categories):
        raise Invalid("a category is listed twice", field="categories")
    today = now.date()
    age = (
        today.year
        - data.date_of_birth.year
        - ((today.month, today.day) < (data.date_of_birth.month, data.date_of_birth.day))
    )
    if age < 18:
        raise Invalid("a provider must be at least 18 years old", field="date_of_birth")
    if age > 100:
        raise Invalid("date of birth is implausible", field="date_of_birth")
    return siret


def new_provider(provider_id: str, data: ApplicationData, siret: str, now: datetime) -> m.Provider:
    return m.Provider(
        id=provider_id,
        status=ProviderStatus.applied.value,
        suspension=None,
        first_name=data.first_name,
        last_name=data.last_name,
        email=data.email,
        phone=data.phone,
        date_of_birth=data.date_of_birth,
        nationality=data.nationality.upper(),
        right_to_work_ref=data.right_to_work_ref,
        siret=siret,
        categories=list(data.categories),
        address=data.address,
        postcode=data.postcode,
        home_lat=data.home_lat,
        home_lng=data.home_lng,
        travel_radius_km=data.travel_radius_km,
        weekly_hours_target=data.weekly_hours_target,
        photo_ref=data.photo_ref,
        qualified=[],
        on_duty=False,
        weekly_schedule=[],
        applied_at=now,
        updated_at=now,
    )


async def apply(ctx: Context, principal: Principal, data: ApplicationData) -> m.Provider:
    """Record a provider's application; the token's subject becomes the provider id."""
    now = ctx.clock()
    siret = validate_application(data, now)
    if len(principal.subject) > 100:
        raise Invalid("the token subject is too long to be a provider id", field=["header", "Authorization"])
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        if await repo.get(principal.subject) is not None:
            raise AlreadyApplied("you have already applied")
        provider = new_provider(principal.subject, data, siret, now)
        repo.add(provider)
        repo.audit(now, principal.subject, "applied", provider_id=provider.id)
        await commit_unique(uow, AlreadyApplied("you have already applied"))
    return provider


async def get_provider(ctx: Context, principal: Principal, provider_id: str) -> tuple[m.Provider, Evaluation]:
    """Return a provider's profile and current qualification evaluation."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        return provider, await evaluate_provider(repo, ctx, provider, ctx.clock())


async def list_providers(
    ctx: Context, statuses: Sequence[str] | None = None
) -> list[tuple[m.Provider, Evaluation]]:
    """Return providers (optionally by status) with what each is missing (ops)."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        now = ctx.clock()
        return [(p, await evaluate_provider(repo, ctx, p, now)) for p in await repo.list_providers(statuses)]


async def vetting_queue(ctx: Context) -> list[tuple[m.Provider, Evaluation]]:
    """Return applications waiting for ops (applied, under review, approved but not active)."""
    return await list_providers(
        ctx,
        [ProviderStatus.applied.value, ProviderStatus.under_review.value, ProviderStatus.approved.value],
    )


UNSET: object = object()


# --- availability ---------------------------------------------------------------------------


async def set_availability(
    ctx: Context,
    principal: Principal,
    provider_id: str,
    *,
    on_duty: bool | None = None,
    weekly_schedule: list[Slot] | None = None,
    travel_radius_km: float | None = None,
    weekly_hours_target: float | None = None,
) -> m.Provider:
    """Change duty, weekly schedule, radius or hours target; off duty forgets the position."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        standing = standing_of(provider)
        if standing.is_final:
            raise IllegalTransition("provider", standing.status.value, "change the availability of")
        now = ctx.clock()
        if weekly_schedule is not None:
            provider.weekly_schedule = [
                {"weekday": s.weekday, "start": s.start, "end": s.end}
                for s in validate_schedule(weekly_schedule)
            ]
        if travel_radius_km is not None:
            provider.travel_radius_km = travel_radius_km
        if weekly_hours_target is not None:
            provider.weekly_hours_target = weekly_hours_target
        if on_duty is True and standing.status is not ProviderStatus.active:
            raise IllegalTransition("provider", standing.status.value, "go on duty as")
        if on_duty is False:
            provider.position_lat = provider.position_lng = None
            provider.position_at = None
        if on_duty is not None:
            provider.on_duty = on_duty
        provider.updated_at = now
        uow.add_event(availability_event(provider))
        await uow.commit()
    return provider


async def update_position(
    ctx: Context, principal: Principal, provider_id: str, lat: float, lng: float, recorded_at: datetime | None
) -> m.Provider:
    """Record the provider's current position; refused while off duty."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        ensure_position_allowed(provider.on_duty)
        now = ctx.clock()
        when = recorded_at or now
        if when > now + timedelta(minutes=1):
            raise Invalid("a position cannot be recorded in the future", field="recorded_at")
        if provider.position_at is not None and when < provider.position_at:
            raise Conflict("a newer position is already recorded")
        provider.position_lat, provider.position_lng, provider.position_at = lat, lng, when
        uow.add_event(PositionUpdated(provider_id=provider.id, lat=lat, lng=lng, recorded_at=when))
        await uow.commit()
    return provider


# --- seeding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderSeed:
    """One already-vetted provider to create (demo seeding and benchmarks)."""

    provider_id: str
    first_name: str
    last_name: str
    categories: list[str]
    home_lat: float
    home_lng: float
    postcode: str
    siret: str = "73282932000074"
    travel_radius_km: float = 10.0
    weekly_hours_target: float = 30.0
    on_duty: bool = False
    email: str | None = None
    phone: str = "+33600000000"
    address: str = "1 rue de la Paix"
    date_of_birth: date = date(1990, 1, 1)


async def seed_active_provider(
    ctx: Context,
    *,
    provider_id: str,
    first_name: str,
    last_name: str,
    categories: list[str],
    home_lat: float,
    home_lng: float,
    postcode: str,
    siret: str = "73282932000074",
    travel_radius_km: float = 10.0,
    weekly_hours_target: float = 30.0,
    on_duty: bool = False,
    email: str | None = None,
    phone: str = "+33600000000",
    address: str = "1 rue de la Paix",
    date_of_birth: date = date(1990, 1, 1),
    actor: str = "seed",
) -> m.Provider:
    """Create an already-vetted, active provider in one transaction (demo seeding only).

    Records every base and category check as passed (insurance valid one year,
    URSSAF certificate six months), completes every training module currently
    required for `categories` with a full score, approves, activates and
    publishes `provider-activated` + `qualifications-changed` (and
    `availability-changed` when `on_duty`), exactly as the real flow would.
    Raises Invalid for a bad SIRET or category, AlreadyApplied if the id exists.
    """
    seed = ProviderSeed(
        provider_id=provider_id,
        first_name=first_name,
        last_name=last_name,
        categories=categories,
        home_lat=home_lat,
        home_lng=home_lng,
        postcode=postcode,
        siret=siret,
        travel_radius_km=travel_radius_km,
        weekly_hours_target=weekly_hours_target,
        on_duty=on_duty,
        email=email,
        phone=phone,
        address=address,
        date_of_birth=date_of_birth,
    )
    return (await seed_active_providers(ctx, [seed], actor=actor))[0]


async def seed_active_providers(
    ctx: Context, seeds: Sequence[ProviderSeed], *, actor: str = "seed"
) -> list[m.Provider]:
    """Create many providers as `seed_active_provider` does, all in one transaction.

    One commit and one flush of the staged rows for the lot instead of one each
    (seeding thousands for a benchmark took a minute one by one); all or nothing.
    """
    now = ctx.clock()
    checked = [(seed, validate_application(_application(seed), now)) for seed in seeds]
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        ids = [seed.provider_id for seed in seeds]
        if len(set(ids)) != len(ids):
            raise AlreadyApplied("a provider id is given twice")
        existing = await repo.existing_ids(ids)
        if existing:
            raise AlreadyApplied(f"provider {sorted(existing)[0]} exists")
        requirements = await repo.requirements()
        providers = []
        for seed, facts in checked:
            provider = new_provider(seed.provider_id, _application(seed), facts, now)
            repo.add(provider)
            _stage_seeded_facts(ctx, repo, seed, requirements, now, actor)
            provider.registry_status = "active" if ctx.sirene is not None else None
            provider.registry_checked_at = now if ctx.sirene is not None else None
            set_standing(provider, Standing(ProviderStatus.approved), now)
            repo.audit(now, actor, "seeded", provider_id=seed.provider_id)
            providers.append(provider)
        await repo.flush()
        for seed, provider in zip(seeds, providers, strict=True):
            await reevaluate(uow, repo, ctx, provider, "seeded", now)
            if seed.on_duty and provider.status == ProviderStatus.active.value:
                provider.on_duty = True
                uow.add_event(availability_event(provider))
        await uow.commit()
    return providers


def _application(seed: ProviderSeed) -> ApplicationData:
    return ApplicationData(
        first_name=seed.first_name,
        last_name=seed.last_name,
        email=seed.email or f"{seed.provider_id}@example.org",
        phone=seed.phone,
        date_of_birth=seed.date_of_birth,
        nationality="FR",
        right_to_work_ref="seed",
        siret=seed.siret,
        categories=seed.categories,
        address=seed.address,
        postcode=seed.postcode,
        home_lat=seed.home_lat,
        home_lng=seed.home_lng,
        travel_radius_km=seed.travel_radius_km,
        weekly_hours_target=seed.weekly_hours_target,
    )


def _stage_seeded_facts(
    ctx: Context,
    repo: ProviderRepository,
    seed: ProviderSeed,
    requirements: dict[str, list[ModuleRequirement]],
    now: datetime,
    actor: str,
) -> None:
    """Stage every check as passed and every required module as completed for a seeded provider."""
    kinds: list[tuple[str, str | None]] = [(k, None) for k in ctx.settings.base_checks]
    kinds.append(("urssaf_vigilance", None))
    kinds += [(k, c) for c in seed.categories for k in ctx.settings.category_checks.get(c, [])]
    for kind, category in kinds:
        days = 365 if kind != "urssaf_vigilance" else ctx.settings.urssaf_validity_days
        expires = now + timedelta(days=days)
        repo.add(
            m.Check(
                id=new_id(),
                provider_id=seed.provider_id,
                kind=kind,
                category=category,
                outcome="passed",
                evidence_ref="seed",
                note="seeded",
                checked_by=actor,
                checked_at=now,
                expires_at=expires if kind in ("insurance", "urssaf_vigilance") else None,
            )
        )
    for module in {r.module_id: r for c in seed.categories for r in requirements.get(c, [])}.values():
        repo.add(
            m.TrainingCompletion(
                id=new_id(),
                provider_id=seed.provider_id,
                module_id=module.module_id,
                completed_at=now,
                score=100,
                recorded_by=actor,
            )
        )
