"""The SQL implementation of the core's storage ports: CaseStore, CaseTransaction and Outbox."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, Select, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.models import (
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
from bot.core.ports import Clock, ReportWithCase
from bot.core.reporters_told import ReporterTold
from bot.core.volume import OutputVolume
from storage.audit import GENESIS_HASH, entry_hash, stored_detail
from storage.database import SQLITE_BEGIN_OPTION, SQLITE_NO_BEGIN, create_engine
from storage.group_commit import GroupCommit
from storage.reporters_told import record_told, told_rows
from storage.statements import (
    CASES,
    DIGEST_RUNS,
    DIRECTORY,
    INBOX,
    OUTBOX,
    REPORTS,
    TEAMS_CARDS,
    TEAMS_CONVERSATIONS,
    TEAMS_USERS,
    TIMELINE,
    direct_statements,
    insert,
    prefixed,
    statements,
)
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
from storage.volume import record_volume, volume_row

if TYPE_CHECKING:
    from bot.core.ports import CaseStore, CaseTransaction, Outbox, TeamsStore


# Statements run on Core connections, not ORM sessions: the ORM's unit of work (identity map,
# flush, per-statement session state) cost more than the SQL on the bot's hot path, and rows
# are turned into the core's pydantic models at once anyway. Tables: storage/statements.py.


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

    @property
    def urgent_waiting(self) -> bool:
        return self._urgent > 0

    @contextlib.asynccontextmanager
    async def hold(self, *, urgent: bool = False) -> AsyncIterator[None]:
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._lock.release()

    async def step_aside(self) -> None:
        """Held by a background writer: let the urgent writers waiting go, then take it back."""
        self._lock.release()
        await self._acquire(urgent=False)

    async def _acquire(self, urgent: bool) -> None:
        if urgent:
            self._urgent += 1
            self._no_urgent.clear()
            try:
                await self._lock.acquire()
            finally:
                self._urgent -= 1
                if self._urgent == 0:
                    self._no_urgent.set()
            return
        while True:
            await self._no_urgent.wait()
            await self._lock.acquire()
            if self._urgent == 0:
                return
            self._lock.release()  # an urgent writer arrived meanwhile: it goes first


class SqlCaseTransaction:
    """One unit of work over one connection; `SqlCaseStore.transaction` commits or rolls it
    back."""

    def __init__(
        self, connection: AsyncConnection, clock: Clock, writer: WriterLock | None = None
    ) -> None:
        self._connection = connection
        self._clock = clock
        self._writer = writer
        self._dialect = connection.dialect.name
        self._sql = statements(self._dialect)
        self._direct = direct_statements(self._dialect)
        self._chain_heads: dict[int, str] = {}
        self._unwritten: list[dict[str, Any]] = []  # timeline rows added, not yet inserted

    async def _execute(self, statement: Any, parameters: Any = None) -> Any:
        return await self._direct.execute(self._connection, statement, parameters)

    def should_checkpoint(self) -> bool:
        """True when a writer that must not wait (an ack) waits for this transaction."""
        return self._writer is not None and self._writer.urgent_waiting

    async def checkpoint(self) -> None:
        """Commit what is done so far, let the waiting writers go, then go on in a new
        transaction (row locks and chain heads are re-read after it)."""
        await self.flush()
        await self._connection.commit()
        self._chain_heads.clear()
        if self._writer is not None:
            await self._writer.step_aside()
        await self._connection.begin()

    async def claim_delivery(self, key: str) -> bool:
        """Record a platform delivery id (Slack event_id, action id); False if already seen."""
        found = await self._execute(
            self._sql.claim_delivery, {"key": key, "seen_at": self._clock.now()}
        )
        return found.first() is not None

    async def lock_or_create_case(self, case: Case) -> tuple[Case, bool]:
        """Lock the case of `case.output_key`, creating it from `case` if absent."""
        inserted = (await self._execute(self._sql.create_case, _case_values(case))).first()
        if inserted is not None:
            # Stored as given; its row is ours until commit, and its chain is empty.
            self._chain_heads[inserted.id] = GENESIS_HASH
            return case.model_copy(update={"id": inserted.id}), True
        row = (
            await self._execute(self._sql.case_by_output_locked, {"output_key": case.output_key})
        ).one()
        return _case(row), False

    async def lock_case(self, case_id: int) -> Case | None:
        """The case, locked until the transaction ends (SELECT .. FOR UPDATE); None if absent."""
        row = (await self._execute(self._sql.case_by_id_locked, {"case_id": case_id})).first()
        return None if row is None else _case(row)

    async def lock_case_of_output(self, output_key: str) -> Case | None:
        """The case of this output, locked until the transaction ends; None if none."""
        found = await self._execute(self._sql.case_by_output_locked, {"output_key": output_key})
        row = found.first()
        return None if row is None else _case(row)

    async def new_case(self, case: Case) -> Case:
        """Insert a case that has no shared output key (a free-form edge case)."""
        row = (
            await self._execute(CASES.insert().values(**_case_values(case)).returning(*CASES.c))
        ).one()
        self._chain_heads[row.id] = GENESIS_HASH
        return _case(row)

    async def save_case(self, case: Case) -> Case:
        case_id = _require_id(case.id, "case")
        result = await self._execute(
            self._sql.update_case, {"case_id": case_id, **prefixed(_case_values(case))}
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise LookupError(f"case {case.id} does not exist")
        return case

    async def find_report(self, case_id: int, reporter_id: str) -> Report | None:
        row = (
            await self._execute(
                self._sql.report_of, {"case_id": case_id, "reporter_id": reporter_id}
            )
        ).first()
        return None if row is None else _report(row)

    async def add_report(self, report: Report) -> Report:
        report_id = (
            await self._execute(self._sql.insert_report, _report_values(report))
        ).scalar_one()
        return report.model_copy(update={"id": report_id})

    async def save_report(self, report: Report) -> Report:
        report_id = _require_id(report.id, "report")
        result = await self._execute(
            self._sql.update_report, {"report_id": report_id, **prefixed(_report_values(report))}
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise LookupError(f"report {report.id} does not exist")
        return report

    async def case_reports(self, case_id: int) -> list[Report]:
        rows = await self._execute(self._sql.case_reports, {"case_id": case_id})
        return [_report(row) for row in rows]

    async def append_timeline(self, entry: TimelineEntry) -> TimelineEntry:
        """Append to the case's hash chain (storage/audit.py), under the case's row lock."""
        await self.flush()  # entries added before this one go first in the chain
        values = await self._chained(entry)
        entry_id = (await self._execute(self._sql.insert_timeline, values)).scalar_one()
        return TimelineEntry(
            id=entry_id,
            case_id=entry.case_id,
            at=entry.at,
            actor=entry.actor,
            kind=entry.kind,
            detail=values["detail"],
        )

    async def add_timeline(self, entry: TimelineEntry) -> None:
        """Like append_timeline, but written with the others added, in one statement, when
        the transaction ends (or at a checkpoint)."""
        self._unwritten.append(await self._chained(entry))

    async def flush(self) -> None:
        """Write the timeline entries added so far, in order."""
        if self._unwritten:
            rows, self._unwritten = self._unwritten, []
            await self._execute(self._sql.insert_timeline_rows, rows)

    async def _chained(self, entry: TimelineEntry) -> dict[str, Any]:
        """The entry's row, linked to the head of its case's chain (which it becomes)."""
        prev_hash = self._chain_heads.get(entry.case_id)
        if prev_hash is None:
            # First entry for this case in this transaction: lock it and read the chain's head.
            # Later entries reuse the head we wrote, the lock being held until commit.
            if await self.lock_case(entry.case_id) is None:
                raise LookupError(f"case {entry.case_id} does not exist")
            head = (await self._execute(self._sql.chain_head, {"case_id": entry.case_id})).scalar()
            prev_hash = head or GENESIS_HASH
        detail = stored_detail(entry.model_dump(mode="json")["detail"])
        digest = entry_hash(prev_hash, entry.case_id, entry.at, entry.actor, entry.kind, detail)
        self._chain_heads[entry.case_id] = digest
        return {
            "case_id": entry.case_id,
            "at": entry.at,
            "actor": entry.actor,
            "kind": entry.kind,
            "detail": detail,
            "prev_hash": prev_hash,
            "hash": digest,
        }

    async def schedule_timers(self, timers: list[Timer]) -> None:
        """Add timers in one statement; ones whose key exists are left as they are."""
        if not timers:
            return
        await self._execute(
            self._sql.schedule_timers, [timer.model_dump(exclude={"id"}) for timer in timers]
        )

    async def lock_cases(self, case_ids: list[int]) -> dict[int, Case]:
        """Lock these cases (in id order, so concurrent workers cannot deadlock) and read
        their timeline chain heads, so appends to them need no further reads."""
        if not case_ids:
            return {}
        rows = (
            await self._execute(
                select(CASES)
                .where(CaseRow.id.in_(sorted(case_ids)))
                .order_by(CaseRow.id)
                .with_for_update()
            )
        ).all()
        last = (
            select(func.max(TimelineRow.id))
            .where(TimelineRow.case_id.in_(case_ids))
            .group_by(TimelineRow.case_id)
        )
        heads = await self._execute(
            select(TimelineRow.case_id, TimelineRow.hash).where(TimelineRow.id.in_(last))
        )
        known: dict[int, str] = {case_id: digest for case_id, digest in heads.all()}
        for row in rows:
            # A head this transaction already moved (by appending) is newer than the stored one.
            self._chain_heads.setdefault(row.id, known.get(row.id, GENESIS_HASH))
        return {row.id: _case(row) for row in rows}

    async def finish_timers(self, timer_ids: list[int], at: datetime) -> set[int]:
        """Mark timers fired; returns the ids this call fired (others were fired already)."""
        if not timer_ids:
            return set()
        result = await self._execute(
            update(TimerRow)
            .where(TimerRow.id.in_(timer_ids), TimerRow.fired_at.is_(None))
            .values(fired_at=at)
            .returning(TimerRow.id)
        )
        return set(result.scalars().all())

    async def finish_digest_run(self, run_id: int, at: datetime, *, late: bool) -> bool:
        """Mark a digest run posted; False if another worker already posted it."""
        result = await self._execute(
            update(DigestRunRow)
            .where(DigestRunRow.id == run_id, DigestRunRow.posted_at.is_(None))
            .values(posted_at=at, late=late)
            .returning(DigestRunRow.id)
        )
        return result.first() is not None

    async def reporters_told(self, told: Sequence[ReporterTold], at: datetime) -> None:
        if told:
            await self._execute(record_told(self._dialect), told_rows(told, at))

    async def enqueue(self, message: OutboundMessage) -> bool:
        """Add a message to the outbox; False when one with the same dedupe key exists."""
        return await self.enqueue_all([message]) == 1

    async def enqueue_all(self, messages: Sequence[OutboundMessage]) -> int:
        """Add messages to the outbox, in order, in one statement; returns how many were new."""
        if not messages:
            return 0
        now = self._clock.now()
        rows = [
            {
                "dedupe_key": message.dedupe_key,
                "platform": message.platform,
                "method": message.method,
                "payload": message.model_dump(mode="json")["payload"],
                "attempts": message.attempts,
                "next_attempt_at": message.next_attempt_at,
                "last_error": message.last_error,
                "delivered_at": message.delivered_at,
                "created_at": now,
            }
            for message in messages
        ]
        # One row: a plain execute; several: one INSERT .. VALUES (..), (..) RETURNING, whose
        # ids follow the rows' order (the outbox delivers a case's messages by id).
        inserted = await self._execute(self._sql.enqueue, rows[0] if len(rows) == 1 else rows)
        return len(inserted.all())


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
        self._write_engine = write_engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._writer: AsyncConnection | None = None  # SQLite's one writer, kept open
        self._reader: AsyncConnection | None = None  # SQLite's inline reads, kept open
        self._reading = asyncio.Lock()
        self._threaded: AsyncEngine | None = None
        self._sql = statements(engine.dialect.name)
        self._direct = direct_statements(engine.dialect.name)
        self._group = GroupCommit(self._write_session, self._direct.execute)
        # Slack waits for these: they go before queued background writes, several acks
        # arriving together in one transaction.
        self._acks = GroupCommit(
            functools.partial(self._write_session, urgent=True), self._direct.execute
        )

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlCaseTransaction]:
        """A unit of work: commits when the block ends, rolls back if it raises."""
        async with self._write_session() as session:
            tx = SqlCaseTransaction(session, self._clock, self._write_lock)
            yield tx
            await tx.flush()

    async def reporters_told(self, told: Sequence[ReporterTold], at: datetime) -> None:
        """Record reporters told how their case ended (bot/core/reporters_told.py)."""
        async with self.transaction() as tx:
            await tx.reporters_told(told, at)

    async def record_volume(self, volume: OutputVolume) -> None:
        """Store an AI app's output count for a day (storage/volume.py)."""
        async with self._write_session() as connection:
            await self._direct.execute(
                connection,
                record_volume(self.engine.dialect.name),
                volume_row(volume, self._clock.now()),
            )

    async def get_case(self, case_id: int) -> Case | None:
        row = await self._read_first(self._sql.case_by_id, {"case_id": case_id})
        return None if row is None else _case(row)

    async def list_cases(
        self, *, status: CaseStatus | None = None, system_id: str | None = None
    ) -> list[Case]:
        """Cases oldest first, optionally only those with this status or of this system."""
        statement = select(CASES).order_by(CaseRow.id)
        if status is not None:
            statement = statement.where(CaseRow.status == status)
        if system_id is not None:
            statement = statement.where(CaseRow.system_id == system_id)
        return [_case(row) for row in await self._read(statement)]

    async def reports_by(self, reporter_id: str, limit: int = 20) -> list[ReportWithCase]:
        """A reporter's most recent reports (by when first filed), newest first, with cases."""
        reports = (
            select(REPORTS)
            .where(ReportRow.reporter_id == reporter_id)
            .order_by(ReportRow.created_at.desc(), ReportRow.id.desc())
            .limit(limit)
        )
        found = [_report(row) for row in await self._read(reports)]
        case_ids = sorted({report.case_id for report in found})
        cases = {
            row.id: _case(row)
            for row in await self._read(select(CASES).where(CaseRow.id.in_(case_ids)))
        }
        return [
            ReportWithCase(report=r, case=cases[r.case_id]) for r in found if r.case_id in cases
        ]

    async def timeline(self, case_id: int) -> list[TimelineEntry]:
        statement = (
            select(TIMELINE)
            .where(TimelineRow.case_id == case_id)
            .order_by(TimelineRow.at, TimelineRow.id)
        )
        return [_timeline_entry(row) for row in await self._read(statement)]

    async def claim_due(
        self, now: datetime, lease: timedelta, limit: int = 50
    ) -> list[OutboundMessage]:
        """Claim undelivered due messages, oldest first, leasing them until `now + lease`."""

        rows = await self._lease(
            self._sql.outbox_due, self._sql.outbox_stamp, now, now + lease, limit
        )
        return [_outbound(row) for row in rows]

    async def claim_timers(self, now: datetime, lease: timedelta, limit: int = 100) -> list[Timer]:
        """Claim due, unfired timers whose lease is free, leasing them until `now + lease`."""
        rows = await self._lease(
            self._sql.timers_due, self._sql.timers_stamp, now, now + lease, limit
        )
        return [Timer.model_validate(row, from_attributes=True) for row in rows]

    async def accept(self, key: str, kind: str, payload: dict[str, Any], at: datetime) -> bool:
        """Commit a raw inbound flag before it is acknowledged; False if `key` was seen."""
        values = {"key": key, "kind": kind, "payload": payload, "received_at": at, "attempts": 0}
        return bool(await self._acks.write(self._sql.accept, values))

    async def claim_inbox(
        self, now: datetime, lease: timedelta, limit: int = 50
    ) -> list[InboxItem]:
        """Claim unprocessed inbound flags, oldest first, leasing them until `now + lease`."""

        rows = await self._lease(
            self._sql.inbox_due, self._sql.inbox_stamp, now, now + lease, limit
        )
        return [InboxItem.model_validate(row, from_attributes=True) for row in rows]

    async def finish_inbox(
        self, item_ids: list[int], at: datetime, error: str | None = None
    ) -> None:
        """Mark inbound flags processed (or record why one failed; its lease then expires)."""
        if not item_ids:
            return
        if error:
            await self._group.write(self._sql.inbox_failed, {"ids": item_ids, "error": error})
        else:
            await self._group.write(self._sql.inbox_done, {"ids": item_ids, "at": at})

    async def retry_inbox_later(self, item_id: int, error: str, at: datetime) -> None:
        """Record why filing an item failed; it is claimed again from `at`."""
        values = {"item_id": item_id, "error": error, "until": at}
        await self._group.write(self._sql.inbox_retry_at, values)

    async def bury_inbox(
        self, item_id: int, error: str, at: datetime, notices: Sequence[OutboundMessage]
    ) -> None:
        """Give up on filing an item, and queue what tells its reporter so, together."""
        async with self.transaction() as tx:
            await tx.enqueue_all(notices)
            await tx._execute(self._sql.inbox_dead, {"item_id": item_id, "error": error, "at": at})

    async def reports_of(self, case_id: int) -> list[Report]:
        """A case's reports, oldest first (a read: no write lock, no row lock)."""
        return [
            _report(row) for row in await self._read(self._sql.reports_of, {"case_id": case_id})
        ]

    async def undelivered(self, dedupe_keys: list[str]) -> int:
        """How many of these outbox messages are not delivered yet."""
        query = (
            select(func.count())
            .select_from(OUTBOX)
            .where(OutboxRow.dedupe_key.in_(dedupe_keys), OutboxRow.delivered_at.is_(None))
        )
        return int(await self._read_scalar(query) or 0)

    async def inbox_pending(self) -> int:
        query = (
            select(func.count())
            .select_from(INBOX)
            .where(InboxRow.processed_at.is_(None), InboxRow.dead_at.is_(None))
        )
        return int(await self._read_scalar(query) or 0)

    async def ensure_digest_run(self, digest: str, week: str, due_at: datetime) -> None:
        """Create the (digest, week) run if absent: replicas racing create one row."""
        statement = (
            insert(self.engine.dialect.name, DIGEST_RUNS)
            .values(digest=digest, week=week, due_at=due_at, late=False)
            .on_conflict_do_nothing(index_elements=[DigestRunRow.digest, DigestRunRow.week])
        )
        async with self._write_session() as connection:
            await connection.execute(statement)

    async def claim_digest_runs(self, now: datetime, lease: timedelta) -> list[DigestRun]:
        """Claim unposted digest runs whose lease is free."""
        rows = await self._lease(
            self._sql.digest_runs_due, self._sql.digest_runs_stamp, now, now + lease, 1000
        )
        return [DigestRun.model_validate(row, from_attributes=True) for row in rows]

    async def _lease(
        self, due: Any, stamp: Any, now: datetime, until: datetime, limit: int
    ) -> list[Row[Any]]:
        """Lock the rows `due` selects (skipping rows another worker holds), `stamp` them with
        their lease until `until`, and commit, so every other worker (or replica) sees the
        claim at once. Returns the rows as stamped, in `due`'s order."""
        async with self._write_session() as connection:
            found = await self._direct.execute(connection, due, {"now": now, "limit": limit})
            ids = [row.id for row in found]
            if not ids:
                return []
            stamped = await self._direct.execute(connection, stamp, {"ids": ids, "until": until})
            by_id = {row.id: row for row in stamped}
            return [by_id[i] for i in ids]

    async def digest_runs(self) -> list[DigestRun]:
        rows = await self._read(select(DIGEST_RUNS).order_by(DigestRunRow.id))
        return [DigestRun.model_validate(row, from_attributes=True) for row in rows]

    async def has_cases_before(self, moment: datetime) -> bool:
        found = await self._read_scalar(
            select(CaseRow.id).where(CaseRow.created_at < moment).limit(1)
        )
        return found is not None

    async def mark_delivered(self, message_ids: list[int], at: datetime) -> None:
        if not message_ids:
            return
        await self._group.write(self._sql.delivered, {"ids": message_ids, "at": at})

    async def mark_failed(self, message_id: int, error: str, next_attempt_at: datetime) -> None:
        values = {"message_id": message_id, "error": error, "next_at": next_attempt_at}
        await self._group.write(self._sql.failed, {**values, "dead_at": None})

    async def mark_dead(self, message_id: int, error: str, at: datetime) -> None:
        """Stop retrying a message: it waits, with its error, for `loopkeeper outbox retry`."""
        values = {"message_id": message_id, "error": error, "next_at": at, "dead_at": at}
        await self._group.write(self._sql.failed, values)

    async def pending_count(self) -> int:
        """Messages still to be sent (dead letters are not: nobody is trying)."""
        statement = select(func.count()).select_from(OUTBOX)
        waiting = statement.where(OutboxRow.delivered_at.is_(None), OutboxRow.dead_at.is_(None))
        return int(await self._read_scalar(waiting) or 0)

    async def prune(self, before: datetime) -> int:
        """Forget delivery ids seen, outbox messages delivered and inbox items processed
        before `before`; returns how many rows went."""
        async with self._write_session() as connection:
            deliveries = await connection.execute(
                delete(ProcessedDeliveryRow).where(ProcessedDeliveryRow.seen_at < before)
            )
            delivered = await connection.execute(
                delete(OUTBOX).where(OutboxRow.delivered_at < before)
            )
            processed = await connection.execute(
                delete(INBOX).where(InboxRow.processed_at < before)
            )
            counts: list[int] = [
                int(result.rowcount or 0)  # type: ignore[attr-defined]
                for result in (deliveries, delivered, processed)
            ]
            return sum(counts)

    async def case_for_card(self, channel: str, ts: str) -> Case | None:
        row = await self._read_first(
            select(CASES).where(CaseRow.slack_card_channel == channel, CaseRow.slack_card_ts == ts)
        )
        return None if row is None else _case(row)

    async def record_card(self, case_id: int, channel: str, ts: str) -> None:
        values = {"case_id": case_id, "channel": channel, "ts": ts}
        await self._group.write(self._sql.record_card, values)

    async def cached_user(self, person_id: str, platform: str) -> tuple[bool, str | None]:
        row = await self._read_first(
            self._sql.cached_user, {"person_id": person_id, "platform": platform}
        )
        return (False, None) if row is None else (True, row.user_id)

    async def cache_user(
        self, person_id: str, platform: str, user_id: str | None, at: datetime
    ) -> None:
        statement = insert(self.engine.dialect.name, DIRECTORY).values(
            person_id=person_id, platform=platform, user_id=user_id, looked_up_at=at
        )
        statement = statement.on_conflict_do_update(
            index_elements=[DirectoryRow.person_id, DirectoryRow.platform],
            set_={"user_id": user_id, "looked_up_at": at},
        )
        async with self._write_session() as connection:
            await connection.execute(statement)

    async def cached_person(self, platform: str, user_id: str) -> str | None:
        found = await self._read_scalar(
            select(DirectoryRow.person_id).where(
                DirectoryRow.platform == platform, DirectoryRow.user_id == user_id
            )
        )
        return None if found is None else str(found)

    # --- Teams: card locations, conversation references, users ----------------------------

    async def case_for_teams_card(self, conversation_id: str, activity_id: str) -> Case | None:
        row = await self._read_first(
            select(CASES)
            .join(TEAMS_CARDS, TeamsCardRow.case_id == CaseRow.id)
            .where(
                TeamsCardRow.activity_id == activity_id,
                TeamsCardRow.conversation_id == conversation_id,
            )
        )
        return None if row is None else _case(row)

    async def teams_card(self, case_id: int) -> TeamsCard | None:
        row = await self._read_first(select(TEAMS_CARDS).where(TeamsCardRow.case_id == case_id))
        return None if row is None else TeamsCard.model_validate(row, from_attributes=True)

    async def record_teams_card(self, card: TeamsCard) -> None:
        statement = insert(self.engine.dialect.name, TEAMS_CARDS).values(**card.model_dump())
        statement = statement.on_conflict_do_update(
            index_elements=[TeamsCardRow.case_id],
            set_={
                "conversation_id": statement.excluded.conversation_id,
                "activity_id": statement.excluded.activity_id,
                "posted_at": statement.excluded.posted_at,
            },
        )
        async with self._write_session() as connection:
            await connection.execute(statement)

    async def save_teams_conversation(self, conversation: TeamsConversation) -> None:
        values = conversation.model_dump()
        statement = insert(self.engine.dialect.name, TEAMS_CONVERSATIONS).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[TeamsConversationRow.id],
            set_={k: statement.excluded[k] for k in values if k != "id"},
        )
        async with self._write_session() as connection:
            await connection.execute(statement)

    async def teams_conversation(self, conversation_id: str) -> TeamsConversation | None:
        row = await self._read_first(
            select(TEAMS_CONVERSATIONS).where(TeamsConversationRow.id == conversation_id)
        )
        return None if row is None else _teams_conversation(row)

    async def personal_teams_conversation(self, user_id: str) -> TeamsConversation | None:
        statement = (
            select(TEAMS_CONVERSATIONS)
            .where(TeamsConversationRow.user_id == user_id, TeamsConversationRow.kind == "personal")
            .order_by(TeamsConversationRow.updated_at.desc())
            .limit(1)
        )
        row = await self._read_first(statement)
        return None if row is None else _teams_conversation(row)

    async def latest_teams_conversation(self) -> TeamsConversation | None:
        statement = (
            select(TEAMS_CONVERSATIONS).order_by(TeamsConversationRow.updated_at.desc()).limit(1)
        )
        row = await self._read_first(statement)
        return None if row is None else _teams_conversation(row)

    async def save_teams_user(self, user: TeamsUser) -> None:
        values = user.model_dump()
        statement = insert(self.engine.dialect.name, TEAMS_USERS).values(**values)
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
        async with self._write_session() as connection:
            await connection.execute(statement)

    async def teams_user(self, key: str) -> TeamsUser | None:
        statement = (
            select(TEAMS_USERS)
            .where((TeamsUserRow.key == key) | (TeamsUserRow.user_id == key))
            .order_by(TeamsUserRow.updated_at.desc())
            .limit(1)
        )
        row = await self._read_first(statement)
        return None if row is None else TeamsUser.model_validate(row, from_attributes=True)

    async def ping(self) -> None:
        """Raise unless the database answers."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    @property
    def reading_engine(self) -> AsyncEngine:
        """The engine for long reads (the weekly digest's aggregation). On SQLite, whose
        statements otherwise run on the event loop, it runs them on aiosqlite's thread, so acks
        are not held up meanwhile."""
        if self._write_lock is None:
            return self.engine
        if self._threaded is None:
            url = self.engine.url.render_as_string(hide_password=False)
            self._threaded = create_engine(url, threaded=True)
        return self._threaded

    async def close(self) -> None:
        await self._acks.close()
        await self._group.close()
        if self._threaded is not None:
            await self._threaded.dispose()
        for connection in (self._writer, self._reader):
            if connection is not None:
                await connection.close()
        self._writer = self._reader = None
        await self.engine.dispose()

    @contextlib.asynccontextmanager
    async def _write_session(self, *, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        if self._write_lock is None:
            async with (
                self._write_engine.connect() as connection,
                self._unit_of_work(connection),
            ):
                yield connection
            return
        # SQLite: writers take turns, so they share one connection instead of checking one out
        # of the pool (and resetting it) for each of the many small write transactions.
        async with self._write_lock.hold(urgent=urgent):
            if self._writer is None or self._writer.closed or self._writer.invalidated:
                self._writer = await self._write_engine.connect()
            async with self._unit_of_work(self._writer):
                yield self._writer

    @staticmethod
    @contextlib.asynccontextmanager
    async def _unit_of_work(connection: AsyncConnection) -> AsyncIterator[None]:
        """Begin; commit at the end, or roll back on error. Whichever transaction is current
        then is the one ended: a checkpoint may have committed one and begun the next."""
        await connection.begin()
        try:
            yield
        except BaseException:
            await connection.rollback()
            raise
        await connection.commit()

    @contextlib.asynccontextmanager
    async def _read_session(self) -> AsyncIterator[AsyncConnection]:
        if self._write_lock is None:
            # PostgreSQL: each read is one statement, so no BEGIN and ROLLBACK round trips.
            async with self._autocommit.connect() as connection:
                yield connection
            return
        # SQLite: statements run inline (storage.sqlite_inline), so one connection serves
        # every read in turn, each in its own short transaction (a fresh snapshot).
        async with self._reading:
            if self._reader is None or self._reader.closed or self._reader.invalidated:
                # Every read here is one statement: consistent on its own, no BEGIN needed.
                self._reader = await self.engine.connect()
                await self._reader.execution_options(**{SQLITE_BEGIN_OPTION: SQLITE_NO_BEGIN})
            async with self._reader.begin():
                yield self._reader

    async def _read(
        self, statement: Select[Any], parameters: dict[str, Any] | None = None
    ) -> list[Row[Any]]:
        async with self._read_session() as connection:
            return list((await self._direct.execute(connection, statement, parameters)).all())

    async def _read_first(
        self, statement: Select[Any], parameters: dict[str, Any] | None = None
    ) -> Row[Any] | None:
        async with self._read_session() as connection:
            return (await self._direct.execute(connection, statement, parameters)).first()

    async def _read_scalar(self, statement: Select[Any]) -> Any:
        async with self._read_session() as connection:
            return await connection.scalar(statement)


def _require_id(value: int | None, what: str) -> int:
    if value is None:
        raise ValueError(f"the {what} has no id: it was never stored")
    return value


def _case_values(case: Case) -> dict[str, Any]:
    return case.model_dump(exclude={"id"})


def _report_values(report: Report) -> dict[str, Any]:
    return report.model_dump(exclude={"id"})


def _case(row: Row[Any]) -> Case:
    return Case.model_validate(row, from_attributes=True)


def _report(row: Row[Any]) -> Report:
    return Report.model_validate(row, from_attributes=True)


def _timeline_entry(row: Row[Any]) -> TimelineEntry:
    return TimelineEntry.model_validate(row, from_attributes=True)


def _outbound(row: Row[Any]) -> OutboundMessage:
    return OutboundMessage.model_validate(row, from_attributes=True)


def _teams_conversation(row: Row[Any]) -> TeamsConversation:
    return TeamsConversation.model_validate(row, from_attributes=True)


if TYPE_CHECKING:

    def _implements_ports(
        store: SqlCaseStore, tx: SqlCaseTransaction
    ) -> tuple[CaseStore, Outbox, CaseTransaction, TeamsStore]:
        return store, store, tx, store
