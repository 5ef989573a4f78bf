"""The simulated apps: a client app per order, a provider app per provider (HTTP only)."""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.simulator.api import Api, SimulationError, Who, detail_of
from services.simulator.demand import MINUTES_PER_DAY, PlannedOrder
from services.simulator.setup import SimProvider
from shared.auth import Role

ACTIVE_STATUSES = ("confirmed", "assigned", "in_progress")
FINAL = ("completed", "cancelled", "unfulfilled")
STREETS = (
    "rue Garibaldi",
    "cours Lafayette",
    "avenue Jean Jaurès",
    "rue de Marseille",
    "rue Paul Bert",
    "boulevard des Belges",
    "rue Servient",
    "montée de la Grande Côte",
    "rue Victor Hugo",
)
DECLINE_REASONS = ("too far for me", "not my speciality", "already planned something", "")


@dataclass(frozen=True)
class SimSettings:
    """How people behave, and the bounds on every loop (real seconds unless said otherwise)."""

    duration_s: float
    lead_s: float = 45.0  # quote start this long after asking
    patience_s: float = 60.0  # dispatch deadline this long after the window start
    decline_share: float = 0.15
    cancel_share: float = 0.03
    rating_share: float = 0.8
    provider_poll_s: float = 1.0
    client_poll_s: float = 1.0
    think_sim_min: tuple[float, float] = (1.0, 6.0)  # how long a provider looks at an offer
    max_mission_real_s: float = 60.0  # cap on travel + work of one mission in real seconds
    grace_s: float = 45.0  # past its deadline, how long a client still waits for an answer

    @property
    def compression(self) -> float:
        """Return simulated seconds per real second."""
        return MINUTES_PER_DAY * 60 / self.duration_s

    def real_s(self, sim_min: float) -> float:
        """Return the real seconds a span of simulated minutes takes."""
        return sim_min * 60 / self.compression


class SimClock:
    """The compressed day: real monotonic time since the start mapped to minutes of the day."""

    def __init__(self, duration_s: float) -> None:
        self.duration_s = duration_s
        self.started = time.monotonic()

    def elapsed(self) -> float:
        """Return real seconds since the day started."""
        return time.monotonic() - self.started

    def sim_minute(self) -> float:
        """Return the simulated minute of the day (past 1440 once the day is over)."""
        return self.elapsed() / self.duration_s * MINUTES_PER_DAY

    async def sleep_until(self, offset_s: float) -> None:
        """Sleep until `offset_s` real seconds after the start."""
        delay = offset_s - self.elapsed()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class OrderRecord:
    """What a client app knows of its order, and what the simulation noted on the way."""

    planned: PlannedOrder
    order_id: str | None = None
    refused: str | None = None
    status: str | None = None
    zone: str | None = None
    price_cents: int | None = None
    dispatch_deadline: datetime | None = None
    start_code: str | None = None
    code_ready: asyncio.Event = field(default_factory=asyncio.Event)
    wants_cancel_after_s: float | None = None
    cancel_reason: str | None = None
    provider_id: str | None = None
    provider_lat: float | None = None
    provider_lng: float | None = None
    travel_min: float | None = None
    payout_cents: int | None = None
    net_payout_cents: int | None = None
    supplement_cents: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    first_offer_at: str | None = None


@dataclass
class ProviderTally:
    """What a provider app counted."""

    offers: int = 0
    accepted: int = 0
    declined: int = 0
    lost: int = 0
    duty_sim_min: float = 0.0


@dataclass
class World:
    """Shared state of the run: the API, settings, the clock, and what every app noted."""

    api: Api
    settings: SimSettings
    clock: SimClock
    rng: random.Random
    orders: dict[str, OrderRecord] = field(default_factory=dict)  # by order id
    tallies: dict[str, ProviderTally] = field(default_factory=dict)
    ratings: dict[str, list[int]] = field(default_factory=lambda: {"by_client": [], "by_provider": []})
    margin_min: float = 30.0  # the orders service's dispatch margin, learnt from the first answer
    placed: int = 0
    settled: int = 0
    on_duty: set[str] = field(default_factory=set)  # providers on duty now
    busy: set[str] = field(default_factory=set)  # providers holding a mission now
    supply: list[tuple[float, int, int]] = field(default_factory=list)  # (sim minute, on duty, busy)
    background: set[asyncio.Task[None]] = field(default_factory=set)  # ratings sent after missions

    def sample_supply(self) -> None:
        """Note how many providers are on duty and busy at this minute of the day."""
        minute = self.clock.sim_minute()
        if minute < MINUTES_PER_DAY:
            self.supply.append((round(minute, 1), len(self.on_duty), len(self.busy)))


def _rating(rng: random.Random) -> int:
    return rng.choices((5, 4, 3, 2, 1), weights=(62, 25, 8, 3, 2))[0]


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


# ---------------------------------------------------------------- the client app


async def client_app(world: World, record: OrderRecord, seed: float) -> None:
    """Quote, order, follow the order, hand the start code over, rate; cancel sometimes."""
    rng = random.Random(seed)
    s, plan = world.settings, record.planned
    who: Who = (Role.client, plan.client_id)
    await world.clock.sleep_until(plan.sim_minute / MINUTES_PER_DAY * s.duration_s)
    try:
        try:
            await _place_order(world, record, who, rng)
        finally:
            world.placed += 1
        if record.order_id is not None:
            await _follow_order(world, record, who, rng)
    except SimulationError as exc:
        if record.order_id is None:
            record.refused = record.refused or f"http: {str(exc)[:80]}"
    finally:
        world.settled += 1


async def _place_order(world: World, record: OrderRecord, who: Who, rng: random.Random) -> None:
    s, api, plan = world.settings, world.api, record.planned
    start = (datetime.now(UTC) + timedelta(seconds=s.lead_s)).replace(microsecond=0)
    quote = await api.call(
        "POST",
        "/v1/quotes",
        who=who,
        json={
            "category": plan.category,
            "postcode": plan.postcode,
            "lat": plan.lat,
            "lng": plan.lng,
            "start_at": start.isoformat(),
            "duration_min": plan.duration_min,
        },
    )
    if quote.status_code != 201:
        record.refused = f"quote {quote.status_code}: {detail_of(quote)}"
        return
    q = quote.json()
    quoted_start = _parse(q["start_at"])
    slack = timedelta(minutes=world.margin_min, seconds=s.patience_s)
    body = {
        "quote_id": q["id"],
        "address": {
            "street": f"{rng.randint(1, 180)} {rng.choice(STREETS)}",
            "postcode": plan.postcode,
            "city": plan.commune[:100],
            "lat": plan.lat,
            "lng": plan.lng,
        },
        "access_notes": rng.choice(("", "code 1234B, 3rd floor", "ring twice", "dog is friendly")),
        "window": {
            "start": quoted_start.isoformat(),
            "end": (quoted_start + timedelta(minutes=plan.duration_min) + slack).isoformat(),
        },
    }
    answer = await api.call(
        "POST", "/v1/orders", who=who, json=body, headers={"Idempotency-Key": f"sim-{uuid.uuid4().hex}"}
    )
    if answer.status_code != 201:
        record.refused = f"order {answer.status_code}: {detail_of(answer)}"
        return
    order = answer.json()
    record.order_id = order["id"]
    record.status = order["status"]
    record.zone = order.get("zone")
    record.price_cents = order.get("price_cents")
    record.dispatch_deadline = _parse(order["dispatch_deadline"])
    # The orders service's margin (deadline = latest start - margin) is learnt from its answer,
    # so that the next windows put the deadline `patience_s` after the start whatever it is.
    latest_start = _parse(order["window"]["end"]) - timedelta(minutes=plan.duration_min)
    world.margin_min = max(0.0, (latest_start - record.dispatch_deadline).total_seconds() / 60)
    world.orders[order["id"]] = record
    if rng.random() < s.cancel_share:
        record.wants_cancel_after_s = rng.uniform(1.0, max(2.0, s.patience_s / 2))


async def _follow_order(world: World, record: OrderRecord, who: Who, rng: random.Random) -> None:
    """Poll the order until it is final; bounded by its deadline and the longest mission."""
    s, api = world.settings, world.api
    assert record.order_id is not None and record.dispatch_deadline is not None
    placed_at = time.monotonic()
    until_deadline = (record.dispatch_deadline - datetime.now(UTC)).total_seconds()
    wait_s = min(until_deadline, s.lead_s + 2 * s.patience_s) + s.grace_s
    give_up = placed_at + max(wait_s, 5.0)
    path = f"/v1/orders/{record.order_id}"
    bound = int((wait_s + s.max_mission_real_s + 2 * s.grace_s) / (s.client_poll_s / 2)) + 2
    for _ in range(bound):
        if time.monotonic() >= give_up:
            break
        if (
            record.wants_cancel_after_s is not None
            and time.monotonic() - placed_at >= record.wants_cancel_after_s
        ):
            record.wants_cancel_after_s = None
            reason = rng.choice(("plans changed", "found someone else", "no longer needed"))
            cancelled = await api.call("POST", f"{path}/cancel", who=who, json={"reason": reason})
            if cancelled.status_code == 200:
                record.cancel_reason = f"client: {reason}"
        response = await api.call("GET", path, who=who)
        if response.status_code == 200:
            order = response.json()
            record.status = order["status"]
            record.history = order.get("history") or []
            if order.get("start_code") and not record.code_ready.is_set():
                record.start_code = order["start_code"]
                record.code_ready.set()
                # assigned: now wait for the mission too (travel and work are bounded)
                give_up = max(give_up, time.monotonic() + s.max_mission_real_s + s.grace_s)
            if record.status in FINAL:
                break
        await asyncio.sleep(s.client_poll_s * rng.uniform(0.7, 1.3))
    if record.status not in FINAL:
        # The run is ending: the client gives up on an order still open (it shows as cancelled).
        cancelled = await api.call("POST", f"{path}/cancel", who=who, json={"reason": "simulation ended"})
        if cancelled.status_code == 200:
            record.cancel_reason = "simulator: still open at the end of the run"
            record.status = cancelled.json()["status"]
            record.history = cancelled.json().get("history") or record.history
    if record.status == "completed" and rng.random() < s.rating_share:
        score = _rating(rng)
        rated = await api.call("POST", f"{path}/rating", who=who, json={"score": score, "comment": ""})
        if rated.status_code == 201:
            world.ratings["by_client"].append(score)


# ---------------------------------------------------------------- the provider app


@dataclass
class Duty:
    """The app's own idea of its duty, shared by its polling loop and its mission worker.

    Providers refuses a position off duty (409), and the loop may go off duty at the end of
    the shift while the worker finishes a job: duty changes and position updates are sent
    one at a time under the lock, and a position only while on duty.
    """

    is_on: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


async def provider_app(world: World, provider: SimProvider, seed: float) -> None:
    """Go on duty for the shift, poll offers, accept most, do the missions, rate the client.

    At the end of the shift the app declines what is pending, goes off duty and stops polling;
    the missions already accepted are still done, without sharing the position.
    """
    rng = random.Random(seed)
    s, api, clock = world.settings, world.api, world.clock
    who: Who = (Role.provider, provider.id)
    tally = world.tallies.setdefault(provider.id, ProviderTally())
    duty = Duty()
    on_duty_since: float | None = None
    path = f"/v1/providers/{provider.id}"
    bound = int((s.duration_s * 3 + 600) / (s.provider_poll_s / 2))
    # Missions are done one after the other by a worker while the app keeps polling offers:
    # matching may offer the next job to do after the current one.
    missions: asyncio.Queue[Accepted | None] = asyncio.Queue()
    worker = asyncio.create_task(_mission_worker(world, provider, who, missions, rng, duty))
    try:
        for _ in range(bound):
            minute = clock.sim_minute()
            day_over = minute >= MINUTES_PER_DAY
            shift_over = day_over or minute >= provider.shift.end_min
            wanted = provider.shift.covers(minute) and not day_over
            if wanted and on_duty_since is None:
                async with duty.lock:
                    await api.ok("PUT", f"{path}/availability", who=who, json={"on_duty": True})
                    duty.is_on = True
                    await api.ok(
                        "PUT", f"{path}/position", who=who, json={"lat": provider.lat, "lng": provider.lng}
                    )
                on_duty_since = minute
                world.on_duty.add(provider.id)
            elif not wanted and on_duty_since is not None:
                await _decline_pending(api, who, tally, "end of my shift")
                await _go_off_duty(api, who, path, duty)
                world.on_duty.discard(provider.id)
                tally.duty_sim_min += minute - on_duty_since
                on_duty_since = None
            if on_duty_since is not None:
                response = await api.call("GET", "/v1/offers", who=who)
                offers = response.json() if response.status_code == 200 else []
                for offer in offers:
                    if offer.get("status") == "pending":
                        await _answer_offer(world, provider, who, offer, tally, rng, missions)
            elif shift_over:
                return
            await asyncio.sleep(s.provider_poll_s * rng.uniform(0.7, 1.3))
    finally:
        world.on_duty.discard(provider.id)
        if on_duty_since is not None:
            tally.duty_sim_min += min(clock.sim_minute(), MINUTES_PER_DAY) - on_duty_since
            await _go_off_duty(api, who, path, duty, must_succeed=False)
        missions.put_nowait(None)
        try:
            await asyncio.wait_for(worker, timeout=2 * s.max_mission_real_s + s.grace_s)
        except TimeoutError:
            pass


async def _go_off_duty(api: Api, who: Who, path: str, duty: Duty, must_succeed: bool = True) -> None:
    """Go off duty; from now on the app sends no position."""
    async with duty.lock:
        duty.is_on = False
        if must_succeed:
            await api.ok("PUT", f"{path}/availability", who=who, json={"on_duty": False})
        else:
            await api.call("PUT", f"{path}/availability", who=who, json={"on_duty": False})


@dataclass(frozen=True)
class Accepted:
    """A mission the provider accepted and will do in turn."""

    mission: dict[str, Any]
    record: OrderRecord | None
    travel_min: float


async def _mission_worker(
    world: World,
    provider: SimProvider,
    who: Who,
    missions: asyncio.Queue[Accepted | None],
    rng: random.Random,
    duty: Duty,
) -> None:
    """Do the accepted missions in order; stop at None."""
    for _ in range(10_000):
        item = await missions.get()
        if item is None:
            return
        world.busy.add(provider.id)
        try:
            if item.record is not None:  # sets off from where the previous job ended
                item.record.provider_lat, item.record.provider_lng = provider.lat, provider.lng
            await _do_mission(world, provider, who, item.mission, item.record, item.travel_min, rng, duty)
        finally:
            if missions.empty():
                world.busy.discard(provider.id)


async def _decline_pending(api: Api, who: Who, tally: ProviderTally, reason: str) -> None:
    """Answer the offers still pending before going off duty (they would lapse otherwise)."""
    response = await api.call("GET", "/v1/offers", who=who)
    for offer in response.json() if response.status_code == 200 else []:
        if offer.get("status") == "pending":
            tally.offers += 1
            declined = await api.call(
                "POST", f"/v1/offers/{offer['id']}/decline", who=who, json={"reason": reason}
            )
            tally.declined += declined.status_code == 200


async def _answer_offer(
    world: World,
    provider: SimProvider,
    who: Who,
    offer: dict[str, Any],
    tally: ProviderTally,
    rng: random.Random,
    missions: asyncio.Queue[Accepted | None],
) -> None:
    s, api = world.settings, world.api
    tally.offers += 1
    await asyncio.sleep(s.real_s(rng.uniform(*s.think_sim_min)))
    if rng.random() < s.decline_share:
        reason = rng.choice(DECLINE_REASONS)
        declined = await api.call(
            "POST", f"/v1/offers/{offer['id']}/decline", who=who, json={"reason": reason}
        )
        tally.declined += declined.status_code == 200
        tally.lost += declined.status_code != 200
        return
    accepted = await api.call("POST", f"/v1/offers/{offer['id']}/accept", who=who)
    if accepted.status_code != 200:
        tally.lost += 1
        return
    tally.accepted += 1
    mission = accepted.json()
    world.busy.add(provider.id)
    record = world.orders.get(offer["order_id"])
    if record is not None:
        record.provider_id = provider.id
        record.travel_min = float(offer.get("travel_min") or 0.0)
        record.supplement_cents = int(mission.get("travel_supplement_cents") or 0)
        record.payout_cents = int(mission.get("payout_cents") or 0) + record.supplement_cents
        record.net_payout_cents = mission.get("net_payout_cents")
    missions.put_nowait(Accepted(mission, record, float(offer.get("travel_min") or 0.0)))


async def _do_mission(
    world: World,
    provider: SimProvider,
    who: Who,
    mission: dict[str, Any],
    record: OrderRecord | None,
    travel_min: float,
    rng: random.Random,
    duty: Duty,
) -> None:
    """Travel, get the code from the client, start, work, complete, move there, rate the client."""
    s, api = world.settings, world.api
    path = f"/v1/missions/{mission['id']}"
    work_min = float(mission.get("duration_min") or 60)
    travel_s = min(s.real_s(travel_min), s.max_mission_real_s / 3)
    await asyncio.sleep(travel_s)
    if record is None:  # not one of ours (a platform shared with others): give it back
        await api.call("POST", f"{path}/cancel", who=who, json={"reason": "not simulated"})
        return
    try:
        await asyncio.wait_for(record.code_ready.wait(), timeout=s.grace_s)
    except TimeoutError:
        await api.call("POST", f"{path}/cancel", who=who, json={"reason": "client did not show the code"})
        return
    assert record.start_code is not None
    started = await api.call("POST", f"{path}/start", who=who, json={"code": record.start_code})
    if started.status_code != 200:
        return  # cancelled by the client meanwhile
    await asyncio.sleep(min(s.real_s(work_min), s.max_mission_real_s - travel_s))
    for attempt in range(3):
        completed = await api.call("POST", f"{path}/complete", who=who)
        if completed.status_code == 200 or completed.status_code == 409:
            break
        await asyncio.sleep(0.5 * (attempt + 1))
    provider.lat, provider.lng = record.planned.lat, record.planned.lng
    async with duty.lock:
        # past the end of the shift no position is collected: the next shift starts from here
        if duty.is_on:
            await api.call(
                "PUT",
                f"/v1/providers/{provider.id}/position",
                who=who,
                json={"lat": provider.lat, "lng": provider.lng},
            )
    if rng.random() < s.rating_share and record.order_id is not None:
        # rated in the background: the app keeps polling offers meanwhile
        task = asyncio.create_task(_rate_client(world, who, record.order_id, _rating(rng)))
        world.background.add(task)
        task.add_done_callback(world.background.discard)


async def _rate_client(world: World, who: Who, order_id: str, score: int) -> None:
    """Rate the client; orders completes the order once it has read `mission-completed`, and
    refuses a rating with 409 until then, so the app tries again a few times."""
    for attempt in range(6):
        rated = await world.api.call(
            "POST", f"/v1/orders/{order_id}/rating", who=who, json={"score": score, "comment": ""}
        )
        if rated.status_code != 409:
            break
        await asyncio.sleep(0.5 * (attempt + 1))
    if rated.status_code == 201:
        world.ratings["by_provider"].append(score)


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Return the great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))
