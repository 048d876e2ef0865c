"""The SQL implementation of the core's storage ports: CaseStore, CaseTransaction and Outbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Select, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.models import (
    Case,
    CaseStatus,
    DigestRun,
    InboxItem,
    OutboundMessage,
    Report,
    TeamsCard,
    TeamsConversation,
    TeamsUser,
    TimelineEntry,
    Timer,
)
from bot.ports import Clock, ReportWithCase
from storage.audit import GENESIS_HASH, entry_hash, stored_detail
from storage.database import SQLITE_BEGIN_OPTION
from storage.tables import (
    CaseRow,
    DigestRunRow,
    DirectoryRow,
    InboxRow,
    OutboxRow,
    ProcessedDeliveryRow,
    ReportRow,
    TeamsCardRow,
    TeamsConversationRow,
    TeamsUserRow,
    TimelineRow,
    TimerRow,
)

if TYPE_CHECKING:
    from bot.ports import CaseStore, CaseTransaction, Outbox, TeamsStore


R = TypeVar("R")


class _UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class WriterLock:
    """SQLite's single writer, in one process; urgent writers (an ack waits) go first."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._urgent = 0
        self._no_urgent = asyncio.Event()
        self._no_urgent.set()

    @contextlib.asynccontextmanager
    async def hold(self, *, urgent: bool = False) -> AsyncIterator[None]:
        if urgent:
            self._urgent += 1
            self._no_urgent.clear()
            try:
                await self._lock.acquire()
            finally:
                self._urgent -= 1
                if self._urgent == 0:
                    self._no_urgent.set()
        else:
            while True:
                await self._no_urgent.wait()
                await self._lock.acquire()
                if self._urgent == 0:
                    break
                self._lock.release()  # an urgent writer arrived meanwhile: it goes first
        try:
            yield
        finally:
            self._lock.release()


class SqlCaseTransaction:
    """One unit of work over one session; `SqlCaseStore.transaction` commits or rolls it back."""

    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._session = session
        self._clock = clock
        bind = session.bind
        assert bind is not None
        self._dialect = bind.dialect.name
        self._chain_heads: dict[int, str] = {}

    async def claim_delivery(self, key: str) -> bool:
        """Record a platform delivery id (Slack event_id, action id); False if already seen."""
        statement = (
            _insert(self._dialect, ProcessedDeliveryRow)
            .values(key=key, seen_at=self._clock.now())
            .on_conflict_do_nothing(index_elements=[ProcessedDeliveryRow.key])
            .returning(ProcessedDeliveryRow.key)
        )
        return (await self._session.execute(statement)).first() is not None

    async def lock_or_create_case(self, case: Case) -> tuple[Case, bool]:
        """Lock the case of `case.output_key`, creating it from `case` if absent."""
        statement = (
            _insert(self._dialect, CaseRow)
            .values(**_case_values(case))
            .on_conflict_do_nothing(index_elements=[CaseRow.output_key])
            .returning(CaseRow.id)
        )
        created = (await self._session.execute(statement)).first() is not None
        row = (
            await self._session.execute(
                select(CaseRow)
                .where(CaseRow.output_key == case.output_key)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        return _case(row), created

    async def lock_case(self, case_id: int) -> Case | None:
        """The case, locked until the transaction ends (SELECT .. FOR UPDATE); None if absent."""
        row = (
            await self._session.execute(
                select(CaseRow)
                .where(CaseRow.id == case_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        return None if row is None else _case(row)

    async def new_case(self, case: Case) -> Case:
        """Insert a case that has no shared output key (a free-form edge case)."""
        row = CaseRow(**_case_values(case))
        self._session.add(row)
        await self._session.flush()
        return _case(row)

    async def save_case(self, case: Case) -> Case:
        row = await self._session.get(CaseRow, _require_id(case.id, "case"))
        if row is None:
            raise LookupError(f"case {case.id} does not exist")
        for name, value in _case_values(case).items():
            setattr(row, name, value)
        await self._session.flush()
        return _case(row)

    async def find_report(self, case_id: int, reporter_id: str) -> Report | None:
        row = (
            await self._session.execute(
                select(ReportRow).where(
                    ReportRow.case_id == case_id, ReportRow.reporter_id == reporter_id
                )
            )
        ).scalar_one_or_none()
        return None if row is None else _report(row)

    async def add_report(self, report: Report) -> Report:
        row = ReportRow(**_report_values(report))
        self._session.add(row)
        await self._session.flush()
        return _report(row)

    async def save_report(self, report: Report) -> Report:
        row = await self._session.get(ReportRow, _require_id(report.id, "report"))
        if row is None:
            raise LookupError(f"report {report.id} does not exist")
        for name, value in _report_values(report).items():
            setattr(row, name, value)
        await self._session.flush()
        return _report(row)

    async def case_reports(self, case_id: int) -> list[Report]:
        rows = await self._session.scalars(
            select(ReportRow)
            .where(ReportRow.case_id == case_id)
            .order_by(ReportRow.created_at, ReportRow.id)
        )
        return [_report(row) for row in rows]

    async def append_timeline(self, entry: TimelineEntry) -> TimelineEntry:
        """Append to the case's hash chain (storage/audit.py), under the case's row lock."""
        prev_hash = self._chain_heads.get(entry.case_id)
        if prev_hash is None:
            # First append to this case in this transaction: lock it and read the chain's head.
            # Later appends reuse the head we wrote, the lock being held until commit.
            locked = await self._session.scalar(
                select(CaseRow.id).where(CaseRow.id == entry.case_id).with_for_update()
            )
            if locked is None:
                raise LookupError(f"case {entry.case_id} does not exist")
            prev_hash = await self._session.scalar(
                select(TimelineRow.hash)
                .where(TimelineRow.case_id == entry.case_id)
                .order_by(TimelineRow.id.desc())
                .limit(1)
            )
            prev_hash = prev_hash or GENESIS_HASH
        detail = stored_detail(entry.model_dump(mode="json")["detail"])
        row = TimelineRow(
            case_id=entry.case_id,
            at=entry.at,
            actor=entry.actor,
            kind=entry.kind,
            detail=detail,
            prev_hash=prev_hash,
            hash=entry_hash(prev_hash, entry.case_id, entry.at, entry.actor, entry.kind, detail),
        )
        self._session.add(row)
        await self._session.flush()
        self._chain_heads[entry.case_id] = row.hash
        return _timeline_entry(row)

    async def schedule_timer(self, timer: Timer) -> bool:
        """Add a timer; False when one with the same key exists."""
        values = timer.model_dump(exclude={"id"})
        statement = (
            _insert(self._dialect, TimerRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[TimerRow.key])
            .returning(TimerRow.id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def schedule_timers(self, timers: list[Timer]) -> None:
        """Add timers in one statement; ones whose key exists are left as they are."""
        if not timers:
            return
        statement = (
            _insert(self._dialect, TimerRow)
            .values([timer.model_dump(exclude={"id"}) for timer in timers])
            .on_conflict_do_nothing(index_elements=[TimerRow.key])
        )
        await self._session.execute(statement)

    async def lock_cases(self, case_ids: list[int]) -> dict[int, Case]:
        """Lock these cases (in id order, so concurrent workers cannot deadlock) and read
        their timeline chain heads, so appends to them need no further reads."""
        if not case_ids:
            return {}
        rows = (
            await self._session.scalars(
                select(CaseRow)
                .where(CaseRow.id.in_(sorted(case_ids)))
                .order_by(CaseRow.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).all()
        last = (
            select(func.max(TimelineRow.id))
            .where(TimelineRow.case_id.in_(case_ids))
            .group_by(TimelineRow.case_id)
        )
        heads = await self._session.execute(
            select(TimelineRow.case_id, TimelineRow.hash).where(TimelineRow.id.in_(last))
        )
        known: dict[int, str] = {case_id: digest for case_id, digest in heads.all()}
        for row in rows:
            self._chain_heads[row.id] = known.get(row.id, GENESIS_HASH)
        return {row.id: _case(row) for row in rows}

    async def finish_timers(self, timer_ids: list[int], at: datetime) -> set[int]:
        """Mark timers fired; returns the ids this call fired (others were fired already)."""
        if not timer_ids:
            return set()
        result = await self._session.execute(
            update(TimerRow)
            .where(TimerRow.id.in_(timer_ids), TimerRow.fired_at.is_(None))
            .values(fired_at=at)
            .returning(TimerRow.id)
        )
        return set(result.scalars().all())

    async def finish_timer(self, timer_id: int, at: datetime) -> bool:
        """Mark a timer fired; False if it already was (another worker got there first)."""
        result = await self._session.execute(
            update(TimerRow)
            .where(TimerRow.id == timer_id, TimerRow.fired_at.is_(None))
            .values(fired_at=at)
            .returning(TimerRow.id)
        )
        return result.first() is not None

    async def finish_digest_run(self, run_id: int, at: datetime, *, late: bool) -> bool:
        """Mark a digest run posted; False if another worker already posted it."""
        result = await self._session.execute(
            update(DigestRunRow)
            .where(DigestRunRow.id == run_id, DigestRunRow.posted_at.is_(None))
            .values(posted_at=at, late=late)
            .returning(DigestRunRow.id)
        )
        return result.first() is not None

    async def enqueue(self, message: OutboundMessage) -> bool:
        """Add a message to the outbox; False when one with the same dedupe key exists."""
        statement = (
            _insert(self._dialect, OutboxRow)
            .values(
                dedupe_key=message.dedupe_key,
                platform=message.platform,
                method=message.method,
                payload=message.model_dump(mode="json")["payload"],
                attempts=message.attempts,
                next_attempt_at=message.next_attempt_at,
                last_error=message.last_error,
                delivered_at=message.delivered_at,
                created_at=self._clock.now(),
            )
            .on_conflict_do_nothing(index_elements=[OutboxRow.dedupe_key])
            .returning(OutboxRow.id)
        )
        return (await self._session.execute(statement)).first() is not None


class SqlCaseStore:
    """Cases, reports, timeline and outbox in SQLite (one process) or PostgreSQL (any number).

    On SQLite, which allows one writer, write transactions of this store are serialised by an
    asyncio.Lock, so concurrent tasks queue instead of failing with "database is locked". Do not
    open a transaction (or call an outbox method) while holding one: that would wait forever.
    """

    def __init__(self, engine: AsyncEngine, *, clock: Clock | None = None) -> None:
        self.engine = engine
        self._clock: Clock = clock or _UtcClock()
        sqlite_db = engine.dialect.name == "sqlite"
        self._write_lock = WriterLock() if sqlite_db else None
        write_engine = (
            engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}) if sqlite_db else engine
        )
        self._read_sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(write_engine, expire_on_commit=False)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlCaseTransaction]:
        """A unit of work: commits when the block ends, rolls back if it raises."""
        async with self._write_session() as session:
            yield SqlCaseTransaction(session, self._clock)

    async def get_case(self, case_id: int) -> Case | None:
        async with self._read_sessions() as session:
            row = await session.get(CaseRow, case_id)
            return None if row is None else _case(row)

    async def list_cases(
        self, *, status: CaseStatus | None = None, system_id: str | None = None
    ) -> list[Case]:
        """Cases oldest first, optionally only those with this status or of this system."""
        statement = select(CaseRow).order_by(CaseRow.id)
        if status is not None:
            statement = statement.where(CaseRow.status == status)
        if system_id is not None:
            statement = statement.where(CaseRow.system_id == system_id)
        async with self._read_sessions() as session:
            return [_case(row) for row in await session.scalars(statement)]

    async def reports_by(self, reporter_id: str, limit: int = 20) -> list[ReportWithCase]:
        """A reporter's most recent reports (by when first filed), newest first, with cases."""
        statement = (
            select(ReportRow, CaseRow)
            .join(CaseRow, ReportRow.case_id == CaseRow.id)
            .where(ReportRow.reporter_id == reporter_id)
            .order_by(ReportRow.created_at.desc(), ReportRow.id.desc())
            .limit(limit)
        )
        async with self._read_sessions() as session:
            rows = await session.execute(statement)
            return [ReportWithCase(report=_report(r), case=_case(c)) for r, c in rows]

    async def timeline(self, case_id: int) -> list[TimelineEntry]:
        statement = (
            select(TimelineRow)
            .where(TimelineRow.case_id == case_id)
            .order_by(TimelineRow.at, TimelineRow.id)
        )
        async with self._read_sessions() as session:
            return [_timeline_entry(row) for row in await session.scalars(statement)]

    async def claim_due(
        self, now: datetime, lease: timedelta, limit: int = 50
    ) -> list[OutboundMessage]:
        """Claim undelivered due messages, oldest first, leasing them until `now + lease`."""

        def stamp(row: OutboxRow) -> None:
            row.attempts += 1
            row.next_attempt_at = now + lease

        statement = (
            select(OutboxRow)
            .where(OutboxRow.delivered_at.is_(None), OutboxRow.next_attempt_at <= now)
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        return [_outbound(row) for row in await self._lease(statement, stamp)]

    async def claim_timers(self, now: datetime, lease: timedelta, limit: int = 100) -> list[Timer]:
        """Claim due, unfired timers whose lease is free, leasing them until `now + lease`."""

        def stamp(row: TimerRow) -> None:
            row.lease_until = now + lease

        statement = (
            select(TimerRow)
            .where(
                TimerRow.fired_at.is_(None),
                TimerRow.due_at <= now,
                _lease_free(TimerRow.lease_until, now),
            )
            .order_by(TimerRow.due_at, TimerRow.id)
            .limit(limit)
        )
        rows = await self._lease(statement, stamp)
        return [Timer.model_validate(row, from_attributes=True) for row in rows]

    async def accept(self, key: str, kind: str, payload: dict[str, Any], at: datetime) -> bool:
        """Commit a raw inbound flag before it is acknowledged; False if `key` was seen."""
        statement = (
            _insert(self.engine.dialect.name, InboxRow)
            .values(key=key, kind=kind, payload=payload, received_at=at, attempts=0)
            .on_conflict_do_nothing(index_elements=[InboxRow.key])
            .returning(InboxRow.id)
        )
        # Slack is waiting for this one: it goes before queued background writes.
        async with self._write_session(urgent=True) as session:
            return (await session.execute(statement)).first() is not None

    async def claim_inbox(
        self, now: datetime, lease: timedelta, limit: int = 50
    ) -> list[InboxItem]:
        """Claim unprocessed inbound flags, oldest first, leasing them until `now + lease`."""

        def stamp(row: InboxRow) -> None:
            row.lease_until = now + lease
            row.attempts += 1

        statement = (
            select(InboxRow)
            .where(InboxRow.processed_at.is_(None), _lease_free(InboxRow.lease_until, now))
            .order_by(InboxRow.id)
            .limit(limit)
        )
        rows = await self._lease(statement, stamp)
        return [InboxItem.model_validate(row, from_attributes=True) for row in rows]

    async def finish_inbox(
        self, item_ids: list[int], at: datetime, error: str | None = None
    ) -> None:
        """Mark inbound flags processed (or record why one failed; its lease then expires)."""
        if not item_ids:
            return
        async with self._write_session() as session:
            values: dict[str, Any] = {"last_error": error} if error else {"processed_at": at}
            await session.execute(
                update(InboxRow).where(InboxRow.id.in_(item_ids)).values(**values)
            )

    async def reports_of(self, case_id: int) -> list[Report]:
        """A case's reports, oldest first (a read: no write lock, no row lock)."""
        async with self._read_sessions() as session:
            rows = await session.scalars(
                select(ReportRow).where(ReportRow.case_id == case_id).order_by(ReportRow.id)
            )
            return [_report(row) for row in rows]

    async def undelivered(self, dedupe_keys: list[str]) -> int:
        """How many of these outbox messages are not delivered yet."""
        async with self._read_sessions() as session:
            query = (
                select(func.count())
                .select_from(OutboxRow)
                .where(OutboxRow.dedupe_key.in_(dedupe_keys), OutboxRow.delivered_at.is_(None))
            )
            return int(await session.scalar(query) or 0)

    async def inbox_pending(self) -> int:
        async with self._read_sessions() as session:
            query = (
                select(func.count()).select_from(InboxRow).where(InboxRow.processed_at.is_(None))
            )
            return int(await session.scalar(query) or 0)

    async def ensure_digest_run(self, digest: str, week: str, due_at: datetime) -> None:
        """Create the (digest, week) run if absent: replicas racing create one row."""
        statement = (
            _insert(self.engine.dialect.name, DigestRunRow)
            .values(digest=digest, week=week, due_at=due_at, late=False)
            .on_conflict_do_nothing(index_elements=[DigestRunRow.digest, DigestRunRow.week])
        )
        async with self._write_session() as session:
            await session.execute(statement)

    async def claim_digest_runs(self, now: datetime, lease: timedelta) -> list[DigestRun]:
        """Claim unposted digest runs whose lease is free."""

        def stamp(row: DigestRunRow) -> None:
            row.lease_until = now + lease

        statement = (
            select(DigestRunRow)
            .where(
                DigestRunRow.posted_at.is_(None),
                DigestRunRow.due_at <= now,
                _lease_free(DigestRunRow.lease_until, now),
            )
            .order_by(DigestRunRow.id)
        )
        rows = await self._lease(statement, stamp)
        return [DigestRun.model_validate(row, from_attributes=True) for row in rows]

    async def _lease(self, statement: Select[R], stamp: Callable[[R], None]) -> list[R]:
        """Lock the rows `statement` selects, skipping rows another worker holds, stamp each
        with its lease and commit, so every other worker (or replica) sees the claim at once."""
        async with self._write_session() as session:
            locked = statement.with_for_update(skip_locked=True)
            rows: list[R] = list((await session.scalars(locked)).all())
            for row in rows:
                stamp(row)
            await session.flush()
            return rows

    async def digest_runs(self) -> list[DigestRun]:
        async with self._read_sessions() as session:
            rows = await session.scalars(select(DigestRunRow).order_by(DigestRunRow.id))
            return [
                DigestRun(
                    id=r.id,
                    digest=r.digest,
                    week=r.week,
                    due_at=r.due_at,
                    posted_at=r.posted_at,
                    late=r.late,
                )
                for r in rows
            ]

    async def has_cases_before(self, moment: datetime) -> bool:
        async with self._read_sessions() as session:
            found = await session.scalar(
                select(CaseRow.id).where(CaseRow.created_at < moment).limit(1)
            )
            return found is not None

    async def case_timers(self, case_id: int) -> list[Timer]:
        async with self._read_sessions() as session:
            rows = await session.scalars(
                select(TimerRow).where(TimerRow.case_id == case_id).order_by(TimerRow.id)
            )
            return [Timer.model_validate(row, from_attributes=True) for row in rows]

    async def mark_delivered(self, message_id: int, at: datetime) -> None:
        async with self._write_session() as session:
            await session.execute(
                update(OutboxRow).where(OutboxRow.id == message_id).values(delivered_at=at)
            )

    async def mark_failed(self, message_id: int, error: str, next_attempt_at: datetime) -> None:
        async with self._write_session() as session:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == message_id)
                .values(last_error=error, next_attempt_at=next_attempt_at)
            )

    async def pending_count(self) -> int:
        async with self._read_sessions() as session:
            statement = select(func.count()).select_from(OutboxRow)
            return await session.scalar(statement.where(OutboxRow.delivered_at.is_(None))) or 0

    async def prune(self, before: datetime) -> int:
        """Forget delivery ids seen, outbox messages delivered and inbox items processed
        before `before`; returns how many rows went."""
        async with self._write_session() as session:
            deliveries = await session.execute(
                delete(ProcessedDeliveryRow).where(ProcessedDeliveryRow.seen_at < before)
            )
            delivered = await session.execute(
                delete(OutboxRow).where(OutboxRow.delivered_at < before)
            )
            processed = await session.execute(
                delete(InboxRow).where(InboxRow.processed_at < before)
            )
            counts: list[int] = [
                int(result.rowcount or 0)  # type: ignore[attr-defined]
                for result in (deliveries, delivered, processed)
            ]
            return sum(counts)

    async def case_for_card(self, channel: str, ts: str) -> Case | None:
        async with self._read_sessions() as session:
            row = (
                await session.execute(
                    select(CaseRow).where(
                        CaseRow.slack_card_channel == channel, CaseRow.slack_card_ts == ts
                    )
                )
            ).scalar_one_or_none()
            return None if row is None else _case(row)

    async def record_card(self, case_id: int, channel: str, ts: str) -> None:
        async with self._write_session() as session:
            await session.execute(
                update(CaseRow)
                .where(CaseRow.id == case_id)
                .values(slack_card_channel=channel, slack_card_ts=ts)
            )

    async def cached_user(self, person_id: str, platform: str) -> tuple[bool, str | None]:
        async with self._read_sessions() as session:
            row = await session.get(DirectoryRow, (person_id, platform))
            return (False, None) if row is None else (True, row.user_id)

    async def cache_user(
        self, person_id: str, platform: str, user_id: str | None, at: datetime
    ) -> None:
        async with self._write_session() as session:
            row = await session.get(DirectoryRow, (person_id, platform))
            if row is None:
                session.add(
                    DirectoryRow(
                        person_id=person_id, platform=platform, user_id=user_id, looked_up_at=at
                    )
                )
            else:
                row.user_id = user_id
                row.looked_up_at = at

    async def cached_person(self, platform: str, user_id: str) -> str | None:
        async with self._read_sessions() as session:
            return (
                await session.execute(
                    select(DirectoryRow.person_id).where(
                        DirectoryRow.platform == platform, DirectoryRow.user_id == user_id
                    )
                )
            ).scalar_one_or_none()

    # --- Teams: card locations, conversation references, users ----------------------------

    async def case_for_teams_card(self, conversation_id: str, activity_id: str) -> Case | None:
        async with self._read_sessions() as session:
            row = (
                await session.execute(
                    select(CaseRow)
                    .join(TeamsCardRow, TeamsCardRow.case_id == CaseRow.id)
                    .where(
                        TeamsCardRow.activity_id == activity_id,
                        TeamsCardRow.conversation_id == conversation_id,
                    )
                )
            ).scalar_one_or_none()
            return None if row is None else _case(row)

    async def teams_card(self, case_id: int) -> TeamsCard | None:
        async with self._read_sessions() as session:
            row = await session.get(TeamsCardRow, case_id)
            return None if row is None else TeamsCard.model_validate(row, from_attributes=True)

    async def record_teams_card(self, card: TeamsCard) -> None:
        statement = _insert(self.engine.dialect.name, TeamsCardRow).values(**card.model_dump())
        statement = statement.on_conflict_do_update(
            index_elements=[TeamsCardRow.case_id],
            set_={
                "conversation_id": statement.excluded.conversation_id,
                "activity_id": statement.excluded.activity_id,
                "posted_at": statement.excluded.posted_at,
            },
        )
        async with self._write_session() as session:
            await session.execute(statement)

    async def save_teams_conversation(self, conversation: TeamsConversation) -> None:
        values = conversation.model_dump()
        statement = _insert(self.engine.dialect.name, TeamsConversationRow).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[TeamsConversationRow.id],
            set_={k: statement.excluded[k] for k in values if k != "id"},
        )
        async with self._write_session() as session:
            await session.execute(statement)

    async def teams_conversation(self, conversation_id: str) -> TeamsConversation | None:
        async with self._read_sessions() as session:
            row = await session.get(TeamsConversationRow, conversation_id)
            return None if row is None else _teams_conversation(row)

    async def personal_teams_conversation(self, user_id: str) -> TeamsConversation | None:
        statement = (
            select(TeamsConversationRow)
            .where(TeamsConversationRow.user_id == user_id, TeamsConversationRow.kind == "personal")
            .order_by(TeamsConversationRow.updated_at.desc())
            .limit(1)
        )
        async with self._read_sessions() as session:
            row = (await session.execute(statement)).scalar_one_or_none()
            return None if row is None else _teams_conversation(row)

    async def latest_teams_conversation(self) -> TeamsConversation | None:
        statement = (
            select(TeamsConversationRow).order_by(TeamsConversationRow.updated_at.desc()).limit(1)
        )
        async with self._read_sessions() as session:
            row = (await session.execute(statement)).scalar_one_or_none()
            return None if row is None else _teams_conversation(row)

    async def save_teams_user(self, user: TeamsUser) -> None:
        values = user.model_dump()
        statement = _insert(self.engine.dialect.name, TeamsUserRow).values(**values)
        keep_if_missing = ("aad_object_id", "name", "email", "tenant_id", "bot_id")
        statement = statement.on_conflict_do_update(
            index_elements=[TeamsUserRow.key],
            set_={
                k: (
                    func.coalesce(statement.excluded[k], getattr(TeamsUserRow, k))
                    if k in keep_if_missing
                    else statement.excluded[k]
                )
                for k in values
                if k != "key"
            },
        )
        async with self._write_session() as session:
            await session.execute(statement)

    async def teams_user(self, key: str) -> TeamsUser | None:
        statement = (
            select(TeamsUserRow)
            .where((TeamsUserRow.key == key) | (TeamsUserRow.user_id == key))
            .order_by(TeamsUserRow.updated_at.desc())
            .limit(1)
        )
        async with self._read_sessions() as session:
            row = (await session.execute(statement)).scalar_one_or_none()
            return None if row is None else TeamsUser.model_validate(row, from_attributes=True)

    async def ping(self) -> None:
        """Raise unless the database answers."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()

    @contextlib.asynccontextmanager
    async def _write_session(self, *, urgent: bool = False) -> AsyncIterator[AsyncSession]:
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock.hold(urgent=urgent))
            session = await stack.enter_async_context(self._write_sessions())
            await stack.enter_async_context(session.begin())
            yield session


def _insert(dialect: str, entity: Any) -> Any:
    """INSERT with ON CONFLICT support for this dialect."""
    if dialect == "postgresql":
        return postgresql.insert(entity)
    if dialect == "sqlite":
        return sqlite.insert(entity)
    raise NotImplementedError(f"loopkeeper supports SQLite and PostgreSQL, not {dialect}")


def _lease_free(lease_until: Any, now: datetime) -> Any:
    """Never leased, or its lease has run out."""
    return lease_until.is_(None) | (lease_until <= now)


def _require_id(value: int | None, what: str) -> int:
    if value is None:
        raise ValueError(f"the {what} has no id: it was never stored")
    return value


def _case_values(case: Case) -> dict[str, Any]:
    return case.model_dump(exclude={"id"})


def _report_values(report: Report) -> dict[str, Any]:
    return report.model_dump(exclude={"id"})


def _case(row: CaseRow) -> Case:
    return Case.model_validate(row, from_attributes=True)


def _report(row: ReportRow) -> Report:
    return Report.model_validate(row, from_attributes=True)


def _timeline_entry(row: TimelineRow) -> TimelineEntry:
    return TimelineEntry.model_validate(row, from_attributes=True)


def _outbound(row: OutboxRow) -> OutboundMessage:
    return OutboundMessage.model_validate(row, from_attributes=True)


def _teams_conversation(row: TeamsConversationRow) -> TeamsConversation:
    return TeamsConversation.model_validate(row, from_attributes=True)


if TYPE_CHECKING:

    def _implements_ports(
        store: SqlCaseStore, tx: SqlCaseTransaction
    ) -> tuple[CaseStore, Outbox, CaseTransaction, TeamsStore]:
        return store, store, tx, store
