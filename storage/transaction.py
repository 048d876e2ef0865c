"""One unit of work over one connection: cases, reports, the timeline's chain, timers,
digest runs and outbox messages written together or not at all."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.burst_priorities import WriterTurns
from bot.core.models import Case, OutboundMessage, Report, TimelineEntry, Timer
from bot.core.ports import Clock
from bot.core.reporters_told import ReporterTold
from storage.audit import GENESIS_HASH, entry_hash, stored_detail
from storage.reporters_told import record_told, told_rows
from storage.rows import case_values, report_values, require_id, to_case, to_report
from storage.sessions import Sessions
from storage.statements import CASES, direct_statements, prefixed, statements
from storage.surges import SurgeWrites
from storage.tables import CaseRow, DigestRunRow, TimelineRow, TimerRow


class SqlCaseTransaction(SurgeWrites):
    """One unit of work over one connection; `SqlCaseStore.transaction` commits or rolls it
    back."""

    def __init__(
        self, connection: AsyncConnection, clock: Clock, writer: WriterTurns | None = None
    ) -> None:
        self._connection = connection
        self._clock = clock
        self._writer = writer
        self._dialect = connection.dialect.name
        self._sql = statements(self._dialect)
        self._direct = direct_statements(self._dialect)
        self._chain_heads: dict[int, str] = {}
        self._unwritten: list[dict[str, Any]] = []  # timeline rows added, not yet inserted
        self._timers: list[dict[str, Any]] = []  # timers scheduled, not yet inserted
        self.start_surges()

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
        self.forget_surges()
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
        inserted = (await self._execute(self._sql.create_case, case_values(case))).first()
        if inserted is not None:
            # Stored as given; its row is ours until commit, and its chain is empty.
            self._chain_heads[inserted.id] = GENESIS_HASH
            return case.model_copy(update={"id": inserted.id}), True
        row = (
            await self._execute(self._sql.case_by_output_locked, {"output_key": case.output_key})
        ).one()
        return to_case(row), False

    async def claim_deliveries(self, keys: Sequence[str]) -> set[str]:
        """Record several platform delivery ids in one statement; those not seen before."""
        if not keys:
            return set()
        now = self._clock.now()
        rows = [{"key": key, "seen_at": now} for key in dict.fromkeys(keys)]
        found = await self._execute(self._sql.claim_delivery, rows[0] if len(rows) == 1 else rows)
        return {row.key for row in found}

    async def lock_or_create_cases(self, cases: Sequence[Case]) -> list[tuple[Case, bool]]:
        """`lock_or_create_case` for several at once: one INSERT for those that are new, one
        SELECT .. FOR UPDATE for those that exist. In order; a later one of an output key
        already given earlier gets the earlier one's case, not created."""
        if not cases:
            return []
        # One candidate per output key, inserted in key order: replicas filing overlapping
        # batches then take the key's index entries in the same order, and cannot deadlock.
        first = {case.output_key: case for case in reversed(cases)}
        rows = [case_values(first[key]) for key in sorted(first)]
        inserted = await self._execute(self._sql.create_cases, rows[0] if len(rows) == 1 else rows)
        created = {row.output_key: row.id for row in inserted}
        stored: dict[str, Case] = {}
        for key, case_id in created.items():
            self._chain_heads[case_id] = GENESIS_HASH  # ours until commit, its chain empty
            stored[key] = first[key].model_copy(update={"id": case_id})
        existing = [key for key in first if key not in created]
        if existing:
            found = await self._execute(self._sql.cases_by_output_locked, {"output_keys": existing})
            stored |= {row.output_key: to_case(row) for row in found}
        result: list[tuple[Case, bool]] = []
        for case in cases:
            result.append((stored[case.output_key], case.output_key in created))
            created.pop(case.output_key, None)  # only its first mention created it
        return result

    async def lock_case(self, case_id: int) -> Case | None:
        """The case, locked until the transaction ends (SELECT .. FOR UPDATE); None if absent."""
        row = (await self._execute(self._sql.case_by_id_locked, {"case_id": case_id})).first()
        return None if row is None else to_case(row)

    async def lock_case_of_output(self, output_key: str) -> Case | None:
        """The case of this output, locked until the transaction ends; None if none."""
        found = await self._execute(self._sql.case_by_output_locked, {"output_key": output_key})
        row = found.first()
        return None if row is None else to_case(row)

    async def new_case(self, case: Case) -> Case:
        """Insert a case that has no shared output key (a free-form edge case)."""
        row = (
            await self._execute(CASES.insert().values(**case_values(case)).returning(*CASES.c))
        ).one()
        self._chain_heads[row.id] = GENESIS_HASH
        return to_case(row)

    async def save_case(self, case: Case) -> Case:
        case_id = require_id(case.id, "case")
        result = await self._execute(
            self._sql.update_case, {"case_id": case_id, **prefixed(case_values(case))}
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
        return None if row is None else to_report(row)

    async def add_report(self, report: Report) -> Report:
        report_id = (
            await self._execute(self._sql.insert_report, report_values(report))
        ).scalar_one()
        return report.model_copy(update={"id": report_id})

    async def add_reports(self, reports: Sequence[Report]) -> list[Report]:
        """Insert several reports, each on a different case, in one statement."""
        if not reports:
            return []
        rows = [report_values(report) for report in reports]
        found = await self._execute(self._sql.insert_reports, rows[0] if len(rows) == 1 else rows)
        ids = {row.case_id: row.id for row in found}
        return [report.model_copy(update={"id": ids[report.case_id]}) for report in reports]

    async def save_report(self, report: Report) -> Report:
        report_id = require_id(report.id, "report")
        result = await self._execute(
            self._sql.update_report, {"report_id": report_id, **prefixed(report_values(report))}
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise LookupError(f"report {report.id} does not exist")
        return report

    async def case_reports(self, case_id: int) -> list[Report]:
        rows = await self._execute(self._sql.case_reports, {"case_id": case_id})
        return [to_report(row) for row in rows]

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
        """Write the timeline entries and timers added so far, in order, one statement each."""
        if self._unwritten:
            rows, self._unwritten = self._unwritten, []
            await self._execute(self._sql.insert_timeline_rows, rows)
        if self._timers:
            timers, self._timers = self._timers, []
            await self._execute(self._sql.schedule_timers, timers)
        await self.flush_surges()

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
        """Add timers, written with the others scheduled in this transaction in one statement
        when it ends (or at a checkpoint, or before timers are marked fired); ones whose key
        exists are left as they are."""
        self._timers += [timer.model_dump(exclude={"id"}) for timer in timers]

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
        return {row.id: to_case(row) for row in rows}

    async def finish_timers(self, timer_ids: list[int], at: datetime) -> set[int]:
        """Mark timers fired; returns the ids this call fired (others were fired already)."""
        if not timer_ids:
            return set()
        await self.flush()
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


@contextlib.asynccontextmanager
async def unit_of_work(db: Sessions) -> AsyncIterator[SqlCaseTransaction]:
    """A transaction on `db`: commits when the block ends, rolls back if it raises."""
    async with db.write_session() as session:
        tx = SqlCaseTransaction(session, db.clock, db.write_lock)
        yield tx
        await tx.flush()
