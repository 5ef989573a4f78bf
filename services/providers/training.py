"""Use cases of training: modules, requirements per category, completions, and the
periodic expiry check that lapses qualifications. One unit of work each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from services.providers import domain
from services.providers import models as m
from services.providers.domain import (
    ProviderStatus,
)
from services.providers.repository import ProviderRepository
from services.providers.service import (
    UNSET,
    Context,
    commit_unique,
    evaluate_provider,
    load_own,
    read_only,
    reevaluate,
)
from shared.auth import Principal
from shared.categories import is_known_category
from shared.db import UnitOfWork
from shared.errors import Conflict, IllegalTransition, Invalid, NotFound
from shared.ids import new_id


async def create_module(
    ctx: Context, ops: Principal, code: str, title: str, validity_days: int | None, min_score: int | None
) -> m.TrainingModule:
    """Define a training module (ops)."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        if await repo.module_by_code(code) is not None:
            raise Conflict(f"a module with code {code!r} exists")
        now = ctx.clock()
        module = m.TrainingModule(
            id=new_id(),
            code=code,
            title=title,
            validity_days=validity_days,
            min_score=min_score,
            created_at=now,
        )
        repo.add(module)
        repo.audit(now, ops.subject, "module_created", details={"module_id": module.id, "code": code})
        await commit_unique(uow, Conflict(f"a module with code {code!r} exists"))
    return module


async def update_module(
    ctx: Context,
    ops: Principal,
    module_id: str,
    *,
    title: str | None = None,
    validity_days: int | None | object = UNSET,
    min_score: int | None | object = UNSET,
) -> tuple[m.TrainingModule, int]:
    """Change a module's title, validity or pass score; every vetted provider is re-evaluated."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        module = await repo.module(module_id)
        if module is None:
            raise NotFound("training module not found")
        now = ctx.clock()
        if title is not None:
            module.title = title
        if validity_days is not UNSET:
            module.validity_days = validity_days  # type: ignore[assignment]
        if min_score is not UNSET:
            module.min_score = min_score  # type: ignore[assignment]
        repo.audit(
            now,
            ops.subject,
            "module_changed",
            details={
                "module_id": module.id,
                "validity_days": module.validity_days,
                "min_score": module.min_score,
            },
        )
        await repo.flush()
        changed = await _reevaluate_all(uow, repo, ctx, f"training module {module.code} changed", now)
        await uow.commit()
    return module, changed


async def list_modules(ctx: Context) -> tuple[Sequence[m.TrainingModule], dict[str, list[str]]]:
    """Return the modules and the modules required per category."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        required: dict[str, list[str]] = {}
        for row in await repo.requirement_rows():
            required.setdefault(row.category, []).append(row.module_id)
        return await repo.modules(), required


async def set_requirements(ctx: Context, ops: Principal, category: str, module_ids: list[str]) -> int:
    """Replace a category's required modules and re-evaluate every vetted provider; return changes."""
    if not is_known_category(category):
        raise NotFound(f"unknown category {category!r}")
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        for index, module_id in enumerate(module_ids):
            if await repo.module(module_id) is None:
                raise Invalid("unknown module", field=f"module_ids.{index}")
        now = ctx.clock()
        await repo.delete_requirements(category)
        await repo.flush()
        for module_id in dict.fromkeys(module_ids):
            repo.add(m.CategoryRequirement(category=category, module_id=module_id, added_at=now))
        repo.audit(
            now, ops.subject, "requirements_changed", details={"category": category, "modules": module_ids}
        )
        await repo.flush()
        changed = await _reevaluate_all(uow, repo, ctx, f"training requirements of {category} changed", now)
        await uow.commit()
    return changed


async def _reevaluate_all(
    uow: UnitOfWork, repo: ProviderRepository, ctx: Context, reason: str, now: datetime
) -> int:
    changed = 0
    vetted = [s.value for s in domain.VETTED_STATUSES]
    for provider in await repo.list_providers(vetted, for_update=True):
        before = (list(provider.qualified), provider.status)
        await reevaluate(uow, repo, ctx, provider, reason, now)
        changed += before != (list(provider.qualified), provider.status)
    return changed


async def run_expiry_check(ctx: Context) -> int:
    """Lapse what expired (documents, trainings, retraining deadlines); return providers changed.

    One short transaction per provider (row locked), so that the job never holds
    every provider at once nor overwrites a decision taken meanwhile.
    """
    vetted = [s.value for s in domain.VETTED_STATUSES]
    async with read_only(ctx.database) as uow:
        ids = await ProviderRepository(uow.session).provider_ids(vetted)
    changed = 0
    for provider_id in ids:
        async with ctx.database.unit_of_work() as uow:
            repo = ProviderRepository(uow.session)
            provider = await repo.get(provider_id, for_update=True)
            if provider is None or provider.status not in vetted:
                continue
            before = (list(provider.qualified), provider.status)
            await reevaluate(uow, repo, ctx, provider, "expiry check", ctx.clock())
            if before != (list(provider.qualified), provider.status):
                changed += 1
                await uow.commit()
    return changed


async def record_completion(
    ctx: Context,
    principal: Principal,
    provider_id: str,
    module_id: str,
    completed_at: datetime | None,
    score: int | None,
) -> m.TrainingCompletion:
    """Record a completed training module with its date and score; re-evaluate qualifications."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        if ProviderStatus(provider.status) in domain.FINAL_STATUSES:
            raise IllegalTransition("provider", provider.status, "record a training for")
        module = await repo.module(module_id)
        if module is None:
            raise Invalid("unknown module", field="module_id")
        now = ctx.clock()
        when = completed_at or now
        if when > now:
            raise Invalid("a completion cannot be in the future", field="completed_at")
        if module.min_score is not None and score is None:
            raise Invalid("this module is scored: give the score", field="score")
        completion = m.TrainingCompletion(
            id=new_id(),
            provider_id=provider.id,
            module_id=module.id,
            completed_at=when,
            score=score,
            recorded_by=principal.subject,
        )
        repo.add(completion)
        repo.audit(
            now,
            principal.subject,
            "training_completed",
            provider_id=provider.id,
            details={"module_id": module.id, "score": score},
        )
        await repo.flush()
        await reevaluate(uow, repo, ctx, provider, f"training {module.code} completed", now)
        await uow.commit()
    return completion


async def list_completions(
    ctx: Context, principal: Principal, provider_id: str
) -> Sequence[m.TrainingCompletion]:
    """Return the provider's training completions."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        return await repo.completions(provider.id)


async def preview_change(
    ctx: Context,
    *,
    category: str | None = None,
    module_ids: list[str] | None = None,
    module_id: str | None = None,
    validity_days: int | None | object = UNSET,
    min_score: int | None | object = UNSET,
) -> dict[str, object]:
    """Say, without saving anything, which vetted providers a requirement or module change disqualifies.

    A dry run of `set_requirements` (category + module_ids) or `update_module` (module_id and
    the fields given): every vetted provider is evaluated against the changed requirements.
    """
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        requirements = await repo.requirements()
        if category is not None:
            if not is_known_category(category):
                raise Invalid(f"unknown category {category!r}", field="category")
            chosen: list[domain.ModuleRequirement] = []
            for index, wanted in enumerate(dict.fromkeys(module_ids or [])):
                row = await repo.module(wanted)
                if row is None:
                    raise Invalid("unknown module", field=f"module_ids.{index}")
                chosen.append(
                    domain.ModuleRequirement(row.id, row.code, row.title, row.validity_days, row.min_score)
                )
            requirements[category] = chosen
        if module_id is not None:
            if await repo.module(module_id) is None:
                raise Invalid("unknown module", field="module_id")
            changes: dict[str, object] = {}
            if validity_days is not UNSET:
                changes["validity_days"] = validity_days
            if min_score is not UNSET:
                changes["min_score"] = min_score
            requirements = {
                cat: [replace(r, **changes) if r.module_id == module_id else r for r in reqs]  # type: ignore[arg-type]
                for cat, reqs in requirements.items()
            }
        now = ctx.clock()
        vetted = [s.value for s in domain.VETTED_STATUSES]
        losing: list[dict[str, object]] = []
        gaining: list[dict[str, object]] = []
        for provider in await repo.list_providers(vetted):
            evaluation = await evaluate_provider(repo, ctx, provider, now, requirements)
            before, after = list(provider.qualified), list(evaluation.qualified)
            lost = [c for c in before if c not in after]
            won = [c for c in after if c not in before]
            if lost:
                losing.append(
                    {"provider_id": provider.id, "categories": lost, "is_left_with_none": not after}
                )
            if won:
                gaining.append({"provider_id": provider.id, "categories": won})
    return {
        "providers_disqualified": len(losing),
        "providers_left_with_none": sum(1 for x in losing if x["is_left_with_none"]),
        "providers_requalified": len(gaining),
        "disqualified": losing,
        "requalified": gaining,
    }
