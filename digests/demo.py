"""Demo feedback for `loopkeeper demo`: weeks of realistic, clearly marked cases to digest.

Everything it writes is marked: cases' output keys start with 'demo:', reporters are
'demo:user-N', comments start with '[demo]'. No message is queued, so a running bot sends
nothing about them; which reporters were told is written as receipts
(bot/core/reporters_told.py). The data follow the routing file: its systems, categories, owners
and SLA targets. One category rises week after week, a critical one flares up in the last week,
some acknowledgements miss their SLA, and a few reporters are never told how their case ended,
so the digest has something to say.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.models import CaseStatus, Severity
from bot.core.routing_rules import Category, Routing, System
from digests.demo_comments import topic_for
from digests.history import (
    CaseHistory,
    Event,
    HistoryStore,
    ReplayClock,
    acknowledged,
    closed,
    commented,
    reopened,
    reported,
    sla_breached,
    write_history,
)
from digests.reads import DEMO_KEY_PREFIX, DemoData
from digests.week import IsoWeek, Zone, zone

DEMO_REPORTERS = 40
SEED = 20260216
NEW_PROMPT_AFTER = timedelta(days=1, hours=9)
"""When in the last week the busiest system's new prompt version goes live: Tuesday 09:00."""
REGRESSION_CASES = 14
"""Extra cases on the busiest system after its new prompt version: a regression to call out."""


@dataclass(frozen=True)
class DemoSummary:
    cases: int
    reports: int
    first_week: IsoWeek
    last_week: IsoWeek
    systems: int


async def demo_case_count(data: DemoData) -> int:
    """How many demo cases the database holds."""
    return await data.count_cases(DEMO_KEY_PREFIX)


async def delete_demo(data: DemoData) -> int:
    """Remove every demo case with everything recorded about it; the count."""
    return await data.delete_cases(DEMO_KEY_PREFIX)


async def seed_demo(
    store: HistoryStore,
    clock: ReplayClock,
    routing: Routing,
    *,
    now: datetime,
    tz: Zone = "UTC",
    weeks: int = 8,
    seed: int = SEED,
) -> DemoSummary:
    """Write `weeks` full weeks of demo feedback ending with the last full week before `now`.

    `clock` must be the store's clock: it is moved to each event's time as it is written.
    """
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    histories = plan_demo(routing, now=now, tz=tz, weeks=weeks, seed=seed)
    for history in histories:
        await write_history(store, clock, history)
    last = IsoWeek.last_full_week(now, tz)
    return DemoSummary(
        cases=len(histories),
        reports=sum(1 for h in histories for e in h.events if e.kind in ("reported", "reopened")),
        first_week=last.shift(-(weeks - 1)),
        last_week=last,
        systems=len({h.system_id for h in histories}),
    )


def plan_demo(
    routing: Routing, *, now: datetime, tz: Zone = "UTC", weeks: int = 8, seed: int = SEED
) -> list[CaseHistory]:
    """The demo cases, deterministic for a given routing, `now` and seed."""
    rng = random.Random(seed)
    local = zone(tz)
    last = IsoWeek.last_full_week(now, local)
    horizon = last.end_utc(local)
    categories = list(routing.categories)
    rising = _pick(categories, "hallucination", lambda c: c.severity is Severity.high)
    flaring = _pick(categories, "unsafe", lambda c: c.severity is Severity.critical)
    histories: list[CaseHistory] = []
    number = 0
    # The busiest system gets a new prompt version on the last week's Tuesday morning, and
    # more reports from then on: the digest's versions section has a regression to call out.
    new_prompt_at = last.start_utc(local) + NEW_PROMPT_AFTER
    releases = {
        system.id: _releases(rank, new_prompt_at) for rank, system in enumerate(routing.systems)
    }
    for index in range(weeks):
        week = last.shift(index - weeks + 1)
        start = week.start_utc(local)
        progress = (index + 1) / weeks
        for system_rank, system in enumerate(routing.systems):
            volume = 1.0 / (1 + 0.4 * system_rank)  # the first systems are the busiest
            for category in categories:
                mean = 0.8 * volume
                if category is flaring:
                    mean = volume * (3.0 if index == weeks - 1 else 0.25)
                elif category.severity is Severity.critical:
                    mean = 0.25 * volume
                count = _poisson(rng, mean)
                if category is rising:  # a steady climb, not left to chance
                    count = round(volume * (0.5 + 6.0 * progress**2))
                for _ in range(count):
                    number += 1
                    opened = start + timedelta(seconds=rng.uniform(0, 7 * 86_400 - 3600))
                    histories.append(
                        _demo_case(
                            rng, routing, system, category, number, opened, horizon,
                            releases[system.id],
                        )
                    )  # fmt: skip
    if routing.systems and rising is not None:
        # Drawn from their own generator, so the weeks above stay as they were.
        extra = random.Random(seed + 1)
        system = routing.systems[0]
        for _ in range(REGRESSION_CASES):
            number += 1
            opened = new_prompt_at + timedelta(
                seconds=extra.uniform(0, (horizon - new_prompt_at).total_seconds() - 3600)
            )
            histories.append(
                _demo_case(
                    extra, routing, system, rising, number, opened, horizon, releases[system.id]
                )
            )
    return histories


def _releases(rank: int, new_prompt_at: datetime) -> Callable[[datetime], tuple[str, str]]:
    """The prompt version and model a system's answer at a given time came from."""
    if rank == 0:
        return lambda at: ("v8" if at >= new_prompt_at else "v7", "gpt-4o")
    if rank == 1:
        return lambda at: ("v3", "gpt-4o")
    return lambda at: ("v2", "gpt-4o-mini")


def _pick(
    categories: list[Category], preferred: str, fallback: Callable[[Category], bool]
) -> Category | None:
    """The category called `preferred`, else the first that passes `fallback`."""
    for category in categories:
        if category.id == preferred:
            return category
    return next((c for c in categories if fallback(c)), None)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth), enough for small means."""
    limit, count, product = pow(2.718281828459045, -mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _demo_case(
    rng: random.Random,
    routing: Routing,
    system: System,
    category: Category,
    number: int,
    opened: datetime,
    horizon: datetime,
    release: Callable[[datetime], tuple[str, str]],
) -> CaseHistory:
    severity = category.severity
    sla = routing.sla[severity]
    owner = routing.owner_of(system, category.route_to)
    topic = topic_for(category.id, number)
    reporters = rng.sample(range(1, DEMO_REPORTERS + 1), k=min(DEMO_REPORTERS, 1 + _reporters(rng)))
    events: list[Event] = []
    moment = opened
    for position, reporter in enumerate(reporters):
        if position:
            moment += timedelta(minutes=rng.expovariate(1 / 240))
        if moment >= horizon:
            break
        comment = f"[demo] {rng.choice(topic.comments)}" if rng.random() < 0.7 else None
        prompt_version, model = release(moment)
        events.append(
            reported(
                moment,
                f"demo:user-{reporter}",
                comment,
                prompt_version=prompt_version,
                model=model,
                asked=f"[demo] {topic.input}",
                answered=f"[demo] {topic.output}",
                expected=f"[demo] {topic.expected}" if comment else None,
            )
        )

    def happens(at: datetime) -> bool:
        return at < horizon

    # Acknowledgement: usually well within the SLA, sometimes late (a breach first).
    late = rng.random() < 0.15
    ack_delay = sla.acknowledge * (rng.uniform(1.1, 3.0) if late else rng.uniform(0.05, 0.8))
    ack_at = opened + ack_delay
    if late and happens(opened + sla.acknowledge):
        events.append(sla_breached(opened + sla.acknowledge))
    if happens(ack_at):
        events.append(acknowledged(ack_at, owner))
        if rng.random() < 0.3:
            events.append(
                commented(
                    ack_at + timedelta(minutes=20),
                    owner or "demo",
                    "[demo] Reproduced it, looking into the prompt.",
                )
            )
    # Resolution: most cases close within their SLA; some overrun or stay open.
    close_delay = sla.resolve * rng.uniform(0.1, 1.6)
    close_at = max(ack_at + timedelta(minutes=30), opened + close_delay)
    if close_delay > sla.resolve and happens(opened + sla.resolve):
        events.append(sla_breached(opened + sla.resolve, "resolved"))
    if happens(close_at) and happens(ack_at) and rng.random() < 0.85:
        roll = rng.random()
        status = (
            CaseStatus.resolved
            if roll < 0.8
            else CaseStatus.wont_fix
            if roll < 0.93
            else CaseStatus.duplicate
        )
        told = None if rng.random() < 0.85 else ()
        events.append(closed(close_at, status, owner, delivered=told, note="[demo] fixed"))
        reopen_at = close_at + timedelta(days=rng.uniform(1, 10))
        unused = sorted(set(range(1, DEMO_REPORTERS + 1)) - set(reporters))
        if rng.random() < 0.06 and happens(reopen_at) and unused:
            events.append(
                reopened(
                    reopen_at,
                    f"demo:user-{rng.choice(unused)}",
                    f"[demo] it happened again: {topic.comments[0]}",
                )
            )
    triage = system.triage.slack_channel or "C0DEMO"
    return CaseHistory(
        output_key=f"{DEMO_KEY_PREFIX}{system.id}:{number}",
        system_id=system.id,
        category_id=category.id,
        severity=severity,
        owner=owner,
        owner_role=category.route_to,
        events=events,
        slack_card=(triage, f"{opened.timestamp():.6f}"),
        output_excerpt=f"[demo] {topic.output}",
        acknowledge_within=sla.acknowledge,
        resolve_within=sla.resolve,
    )


def _reporters(rng: random.Random) -> int:
    """Extra reporters beyond the first: mostly none or one, now and then a pile-on."""
    return min(int(rng.expovariate(1 / 1.3)), 12)
