"""Phase 2: two TimerServices (two stores, two engines, one database) racing to fire 10,000
due escalation timers; each must act exactly once."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from bench.escalation.databases import Database
from bench.escalation.stats import Profiler
from bot.config.loading import load_routing
from bot.core.clock import ManualClock
from bot.core.escalation import TimerService
from bot.core.models import CaseStatus, Role, Severity, TimerKind
from handlers.slack.notices import SlackNotices
from storage.database import create_engine
from storage.repository import SqlCaseStore
from storage.tables import CaseRow, OutboxRow, TimelineRow, TimerRow
from tests.support.bot_settings import ROUTING_FILE

SYSTEM = "support-assistant"  # escalation step 0: after 0m, notify the owner
OWNER = "alice"
OPENED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
INSERT_BATCH = 500


@dataclass
class TimerRun:
    database: Database
    timers: int
    workers: int
    setup_seconds: float = 0.0
    wall_seconds: float = 0.0
    per_worker: list[int] = field(default_factory=list)  # what each fire_due() returned
    fired_rows: int = 0  # timer rows with fired_at set
    unfired_rows: int = 0
    escalated_cases: int = 0  # cases with an 'escalated' timeline entry
    max_escalated_per_case: int = 0
    escalated_entries: int = 0
    outbox_messages: int = 0
    left_over: int = 0  # what one more fire_due() found afterwards
    cpu_seconds: float = 0.0  # this process, all threads, during the race

    @property
    def acted(self) -> int:
        return sum(self.per_worker)

    @property
    def exactly_once(self) -> bool:
        return (
            self.acted == self.timers
            and self.fired_rows == self.timers
            and self.unfired_rows == 0
            and self.escalated_cases == self.timers
            and self.escalated_entries == self.timers
            and self.max_escalated_per_case == 1
            and self.outbox_messages == self.timers
            and self.left_over == 0
        )


async def seed(store: SqlCaseStore, count: int) -> None:
    """`count` new cases of support-assistant owned by alice, each with its step-0 escalation
    timer due at its opening: bulk SQL into the storage tables, INSERT_BATCH per transaction
    (intake inserts one case at a time; only the firing is measured)."""
    routing = load_routing(ROUTING_FILE)
    sla = routing.sla[Severity.high]
    for start in range(0, count, INSERT_BATCH):
        rows = [
            {
                "output_key": f"slack:C0SUPPORT:1700002000.{i:06d}",
                "system_id": SYSTEM,
                "category_id": "hallucination",
                "severity": Severity.high,
                "status": CaseStatus.new,
                "owner": OWNER,
                "owner_role": Role.validation,
                "output_platform": "slack",
                "output_channel_id": "C0SUPPORT",
                "output_ts": f"1700002000.{i:06d}",
                "output_author_bot_id": "B0SUPPORT",
                "report_count": 1,
                "acknowledge_due_at": OPENED + sla.acknowledge,
                "resolve_due_at": OPENED + sla.resolve,
                "created_at": OPENED,
                "updated_at": OPENED,
            }
            for i in range(start, min(start + INSERT_BATCH, count))
        ]
        async with store.engine.begin() as connection:
            ids = (
                await connection.scalars(
                    insert(CaseRow).returning(CaseRow.id, sort_by_parameter_order=True), rows
                )
            ).all()
            await connection.execute(
                insert(TimerRow),
                [
                    {
                        # bot.core.escalation.plan's key: the step-0 timer of this round of triage
                        "key": f"{case_id}:esc:0:{OPENED.isoformat()}",
                        "case_id": case_id,
                        "kind": TimerKind.escalation,
                        "step": 0,
                        "due_at": OPENED,
                    }
                    for case_id in ids
                ],
            )


async def run_timers(
    database: Database, *, timers: int, workers: int = 2, profiler: Profiler | None = None
) -> TimerRun:
    run = TimerRun(database, timers, workers)
    routing = load_routing(ROUTING_FILE)
    clock = ManualClock(OPENED + timedelta(hours=1))  # past every due time, before the 4h step
    stores = [SqlCaseStore(create_engine(database.url), clock=clock) for _ in range(workers)]
    try:
        started = time.perf_counter()
        await seed(stores[0], timers)
        run.setup_seconds = time.perf_counter() - started
        services = [
            TimerService(routing, store, store, clock, SlackNotices(clock)) for store in stores
        ]
        for store in stores:  # connect every pool before the clock starts
            await store.ping()
        if profiler:
            profiler.start()
        started, cpu = time.perf_counter(), time.process_time()
        run.per_worker = list(await asyncio.gather(*(s.fire_due() for s in services)))
        run.wall_seconds = time.perf_counter() - started
        run.cpu_seconds = time.process_time() - cpu
        if profiler:
            profiler.stop()
        run.left_over = sum([await s.fire_due() for s in services])
        await _verify(run, stores[0])
    finally:
        for store in stores:
            await store.close()
    return run


async def _verify(run: TimerRun, store: SqlCaseStore) -> None:
    async with store.engine.connect() as connection:
        run.fired_rows = (
            await connection.scalar(
                select(func.count()).select_from(TimerRow).where(TimerRow.fired_at.is_not(None))
            )
            or 0
        )
        run.unfired_rows = (
            await connection.scalar(
                select(func.count()).select_from(TimerRow).where(TimerRow.fired_at.is_(None))
            )
            or 0
        )
        per_case = (
            select(TimelineRow.case_id, func.count().label("n"))
            .where(TimelineRow.kind == "escalated")
            .group_by(TimelineRow.case_id)
            .subquery()
        )
        cases, entries, most = (
            await connection.execute(
                select(
                    func.count(), func.coalesce(func.sum(per_case.c.n), 0), func.max(per_case.c.n)
                ).select_from(per_case)
            )
        ).one()
        run.escalated_cases, run.escalated_entries = int(cases), int(entries)
        run.max_escalated_per_case = int(most or 0)
        run.outbox_messages = (
            await connection.scalar(select(func.count()).select_from(OutboxRow)) or 0
        )
