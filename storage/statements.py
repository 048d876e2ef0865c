"""The hot path's SQL, built once per dialect with bound parameters.

Building a statement with `.values(**row)` coerces every value into a bind parameter and
computes a new cache key on each call: for a 25-column case row that cost more than running
it. These statements are built once; each call only passes its parameters.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, null, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.sqlite_direct import DirectStatements
from storage.tables import (
    CardLocationRow,
    CaseRow,
    DigestRunRow,
    DirectoryRow,
    InboxRow,
    OutboxRow,
    ProcessedDeliveryRow,
    ReportRow,
    TeamsConversationRow,
    TeamsUserRow,
    TimelineRow,
    TimerRow,
)

CASES: Table = CaseRow.__table__  # type: ignore[assignment]
REPORTS: Table = ReportRow.__table__  # type: ignore[assignment]
TIMELINE: Table = TimelineRow.__table__  # type: ignore[assignment]
OUTBOX: Table = OutboxRow.__table__  # type: ignore[assignment]
TIMERS: Table = TimerRow.__table__  # type: ignore[assignment]
INBOX: Table = InboxRow.__table__  # type: ignore[assignment]
DIRECTORY: Table = DirectoryRow.__table__  # type: ignore[assignment]
DELIVERIES: Table = ProcessedDeliveryRow.__table__  # type: ignore[assignment]
DIGEST_RUNS: Table = DigestRunRow.__table__  # type: ignore[assignment]
CARD_LOCATIONS: Table = CardLocationRow.__table__  # type: ignore[assignment]
TEAMS_CONVERSATIONS: Table = TeamsConversationRow.__table__  # type: ignore[assignment]
TEAMS_USERS: Table = TeamsUserRow.__table__  # type: ignore[assignment]

CASE_COLUMNS = tuple(c.name for c in CASES.c if c.name != "id")
REPORT_COLUMNS = tuple(c.name for c in REPORTS.c if c.name != "id")


def insert(dialect: str, table: Table) -> Any:
    """INSERT with ON CONFLICT support for this dialect."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"loopkeeper supports SQLite and PostgreSQL, not {dialect}")


OUTBOX_STAMP = {"next_attempt_at": bindparam("until"), "attempts": OUTBOX.c.attempts + 1}
"""What claiming an outbox message sets: leased until :until, one more attempt."""


def _lease_free(lease_until: Any) -> Any:
    """Never leased, or its lease has run out by :now."""
    return lease_until.is_(None) | (lease_until <= bindparam("now"))


def _set(table: Table, columns: tuple[str, ...]) -> dict[str, Any]:
    """SET column = :column for each of `columns` (parameters named after their columns)."""
    return {name: bindparam(f"v_{name}", type_=table.c[name].type) for name in columns}


def _claims(
    name: str, table: Table, due: list[Any], order: list[Any], stamp: dict[str, Any]
) -> dict[str, Any]:
    """`<name>_claim` leases the rows to claim (:now, :limit) until :until, skipping rows
    another worker holds, and returns them."""
    selected = (
        select(table.c.id)
        .where(*due)
        .order_by(*order)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
    return {f"{name}_claim": claim(table, selected, stamp)}


def claim(table: Table, due: Any, stamp: dict[str, Any]) -> Any:
    """Lease the rows `due` selects (skipping rows another worker holds) and return them, in
    one statement: `UPDATE .. WHERE id IN (SELECT .. FOR UPDATE SKIP LOCKED) RETURNING ..`.
    The rows come back in no particular order."""
    return update(table).where(table.c.id.in_(due)).values(**stamp).returning(*table.c)


def _record_card(dialect: str) -> Any:
    """Insert a card location (:case_id, :platform, :conversation_id, :message_id,
    :posted_at), replacing the case's card on that platform."""
    statement = insert(dialect, CARD_LOCATIONS)
    # RETURNING, so that several rows at once are one multi-row INSERT on PostgreSQL too
    # (SQLAlchemy's "insertmanyvalues"), not one execution per row.
    return statement.on_conflict_do_update(
        index_elements=[CARD_LOCATIONS.c.case_id, CARD_LOCATIONS.c.platform],
        set_={
            name: statement.excluded[name]
            for name in ("conversation_id", "message_id", "posted_at")
        },
    ).returning(CARD_LOCATIONS.c.case_id, CARD_LOCATIONS.c.platform)


@dataclass(frozen=True)
class Statements:
    claim_delivery: Any
    create_case: Any
    create_cases: Any
    cases_by_output_locked: Any
    case_by_output_locked: Any
    case_by_id: Any
    case_by_id_locked: Any
    update_case: Any
    report_of: Any
    insert_report: Any
    insert_reports: Any
    update_report: Any
    case_reports: Any
    insert_timeline: Any
    insert_timeline_rows: Any
    chain_head: Any
    schedule_timers: Any
    enqueue: Any
    accept: Any
    inbox_claim: Any
    outbox_claim: Any
    timers_claim: Any
    reports_of: Any
    delivered: Any
    failed: Any
    inbox_done: Any
    inbox_failed: Any
    inbox_retry_at: Any
    inbox_dead: Any
    record_card: Any
    cached_user: Any
    digest_runs_claim: Any


@functools.cache
def statements(dialect: str) -> Statements:
    ids: Any = bindparam("ids", expanding=True)
    return Statements(
        claim_delivery=insert(dialect, DELIVERIES)
        .on_conflict_do_nothing(index_elements=[DELIVERIES.c.key])
        .returning(DELIVERIES.c.key),
        create_case=insert(dialect, CASES)
        .on_conflict_do_nothing(index_elements=[CASES.c.output_key])
        .returning(CASES.c.id),
        create_cases=insert(dialect, CASES)
        .on_conflict_do_nothing(index_elements=[CASES.c.output_key])
        .returning(CASES.c.id, CASES.c.output_key),
        cases_by_output_locked=select(CASES)
        .where(CASES.c.output_key.in_(bindparam("output_keys", expanding=True)))
        .order_by(CASES.c.id)
        .with_for_update(),
        case_by_output_locked=select(CASES)
        .where(CASES.c.output_key == bindparam("output_key"))
        .with_for_update(),
        case_by_id=select(CASES).where(CASES.c.id == bindparam("case_id")),
        case_by_id_locked=select(CASES).where(CASES.c.id == bindparam("case_id")).with_for_update(),
        update_case=update(CASES)
        .where(CASES.c.id == bindparam("case_id"))
        .values(**_set(CASES, CASE_COLUMNS)),
        report_of=select(REPORTS).where(
            REPORTS.c.case_id == bindparam("case_id"),
            REPORTS.c.reporter_id == bindparam("reporter_id"),
        ),
        insert_report=REPORTS.insert().returning(REPORTS.c.id),
        insert_reports=REPORTS.insert().returning(REPORTS.c.id, REPORTS.c.case_id),
        update_report=update(REPORTS)
        .where(REPORTS.c.id == bindparam("report_id"))
        .values(**_set(REPORTS, REPORT_COLUMNS)),
        case_reports=select(REPORTS)
        .where(REPORTS.c.case_id == bindparam("case_id"))
        .order_by(REPORTS.c.created_at, REPORTS.c.id),
        insert_timeline=TIMELINE.insert().returning(TIMELINE.c.id),
        insert_timeline_rows=TIMELINE.insert(),
        chain_head=select(TIMELINE.c.hash)
        .where(TIMELINE.c.case_id == bindparam("case_id"))
        .order_by(TIMELINE.c.id.desc())
        .limit(1),
        schedule_timers=insert(dialect, TIMERS).on_conflict_do_nothing(
            index_elements=[TIMERS.c.key]
        ),
        enqueue=insert(dialect, OUTBOX)
        .on_conflict_do_nothing(index_elements=[OUTBOX.c.dedupe_key])
        .returning(OUTBOX.c.id),
        accept=insert(dialect, INBOX)
        .on_conflict_do_nothing(index_elements=[INBOX.c.key])
        .returning(INBOX.c.id, INBOX.c.key),
        **_claims(
            "inbox",
            INBOX,
            [
                INBOX.c.processed_at.is_(None),
                INBOX.c.dead_at.is_(None),
                _lease_free(INBOX.c.lease_until),
            ],
            [INBOX.c.id],
            {"lease_until": bindparam("until"), "attempts": INBOX.c.attempts + 1},
        ),
        **_claims(
            "outbox",
            OUTBOX,
            [
                OUTBOX.c.delivered_at.is_(None),
                OUTBOX.c.dead_at.is_(None),
                OUTBOX.c.next_attempt_at <= bindparam("now"),
            ],
            [OUTBOX.c.id],
            OUTBOX_STAMP,
        ),
        **_claims(
            "timers",
            TIMERS,
            [
                TIMERS.c.fired_at.is_(None),
                TIMERS.c.due_at <= bindparam("now"),
                _lease_free(TIMERS.c.lease_until),
            ],
            [TIMERS.c.due_at, TIMERS.c.id],
            {"lease_until": bindparam("until")},
        ),
        **_claims(
            "digest_runs",
            DIGEST_RUNS,
            [
                DIGEST_RUNS.c.posted_at.is_(None),
                DIGEST_RUNS.c.due_at <= bindparam("now"),
                _lease_free(DIGEST_RUNS.c.lease_until),
            ],
            [DIGEST_RUNS.c.id],
            {"lease_until": bindparam("until")},
        ),
        reports_of=select(REPORTS)
        .where(REPORTS.c.case_id == bindparam("case_id"))
        .order_by(REPORTS.c.id),
        delivered=update(OUTBOX).where(OUTBOX.c.id.in_(ids)).values(delivered_at=bindparam("at")),
        failed=update(OUTBOX)
        .where(OUTBOX.c.id == bindparam("message_id"))
        .values(
            last_error=bindparam("error"),
            next_attempt_at=bindparam("next_at"),
            dead_at=bindparam("dead_at"),
            paced_slot=null(),  # a slot held for the attempt that failed is spent
        ),
        inbox_done=update(INBOX).where(INBOX.c.id.in_(ids)).values(processed_at=bindparam("at")),
        inbox_failed=update(INBOX).where(INBOX.c.id.in_(ids)).values(last_error=bindparam("error")),
        inbox_retry_at=update(INBOX)
        .where(INBOX.c.id == bindparam("item_id"))
        .values(last_error=bindparam("error"), lease_until=bindparam("until")),
        inbox_dead=update(INBOX)
        .where(INBOX.c.id == bindparam("item_id"))
        .values(last_error=bindparam("error"), dead_at=bindparam("at")),
        record_card=_record_card(dialect),
        cached_user=select(DIRECTORY.c.user_id).where(
            DIRECTORY.c.person_id == bindparam("person_id"),
            DIRECTORY.c.platform == bindparam("platform"),
        ),
    )


@functools.cache
def direct_statements(dialect: str) -> DirectStatements:
    """Runs this dialect's prebuilt statements (storage/sqlite_direct.py: SQLite only)."""
    built = statements(dialect)
    prebuilt = [getattr(built, f.name) for f in dataclasses.fields(built)]
    return DirectStatements(prebuilt if dialect == "sqlite" else [])


def prefixed(values: dict[str, Any]) -> dict[str, Any]:
    """Parameters for a statement built with `_set`."""
    return {f"v_{name}": value for name, value in values.items()}
