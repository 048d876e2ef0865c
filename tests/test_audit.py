"""The case timeline's hash chain and append-only guard, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.models import Case, Role, Severity, TimelineEntry
from storage.audit import (
    CONTENT_CHANGED,
    FIRST_LINK_BROKEN,
    GENESIS_HASH,
    LINK_BROKEN,
    AuditResult,
    BrokenEntry,
    entry_hash,
    verify_chain,
)
from storage.database import create_engine
from storage.migrate import alembic_config, upgrade_async
from storage.repository import SqlCaseStore
from storage.tables import TimelineRow

T0 = datetime(2025, 3, 10, 9, 30, 15, 123456, tzinfo=UTC)
TIMELINE = TimelineRow.__table__
# Values a JSON round trip through PostgreSQL's JSONB gives back in another form.
AWKWARD_DETAIL: dict[str, object] = {
    "whole_float": 1.0,
    "huge": 1e20,
    "tiny": 1.5e-10,
    "negative_zero": -0.0,
    "fraction": 0.1,
    "big_int": 10**30,
    "text": 'naïve — ✓ "quoted" \\ \n',
    "nested": {"b": [1, 2.5, None, True, False], "a": {}},
}


def a_case(key: str, system: str = "support-assistant") -> Case:
    return Case(
        output_key=key,
        system_id=system,
        category_id="hallucination",
        severity=Severity.high,
        owner="alice",
        owner_role=Role.validation,
        created_at=T0,
        updated_at=T0,
    )


def an_entry(case_id: int, n: int, **fields: Any) -> TimelineEntry:
    values: dict[str, Any] = {
        "case_id": case_id,
        "at": T0 + timedelta(minutes=n),
        "actor": f"slack:U{n}",
        "kind": "note",
        "detail": {"n": n},
        **fields,
    }
    return TimelineEntry.model_validate(values)


async def seed(store: SqlCaseStore, cases: int = 3, entries_each: int = 3) -> list[int]:
    """Cases with interleaved timeline entries (case 1, case 2, …, case 1, …); their ids."""
    async with store.transaction() as tx:
        ids = [_id((await tx.lock_or_create_case(a_case(f"k{i}")))[0]) for i in range(cases)]
    for n in range(entries_each):
        for case_id in ids:
            async with store.transaction() as tx:
                await tx.lock_case(case_id)
                await tx.append_timeline(an_entry(case_id, n))
    return ids


def _id(case: Case) -> int:
    assert case.id is not None
    return case.id


async def chain_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        statement = sa.select(TIMELINE).order_by(TIMELINE.c.case_id, TIMELINE.c.id)
        return list((await connection.execute(statement)).all())


async def tamper(engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[object]]) -> None:
    """Do `work` with the append-only triggers out of the way (and put them back after)."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(sa.text("ALTER TABLE case_timeline DISABLE TRIGGER USER"))
            await work(connection)
            await connection.execute(sa.text("ALTER TABLE case_timeline ENABLE TRIGGER USER"))
            return
        triggers = (
            await connection.execute(
                sa.text(
                    "SELECT name, sql FROM sqlite_master "
                    "WHERE type = 'trigger' AND tbl_name = 'case_timeline'"
                )
            )
        ).all()
        assert triggers, "the SQLite append-only triggers are missing"
        for name, _ in triggers:
            await connection.execute(sa.text(f'DROP TRIGGER "{name}"'))
        await work(connection)
        for _, sql in triggers:
            await connection.execute(sa.text(sql))


def set_values(entry_id: int, **values: object) -> Callable[[AsyncConnection], Awaitable[object]]:
    def work(connection: AsyncConnection) -> Awaitable[object]:
        return connection.execute(
            sa.update(TIMELINE).where(TIMELINE.c.id == entry_id).values(**values)
        )

    return work


def delete_entry(entry_id: int) -> Callable[[AsyncConnection], Awaitable[object]]:
    def work(connection: AsyncConnection) -> Awaitable[object]:
        return connection.execute(sa.delete(TIMELINE).where(TIMELINE.c.id == entry_id))

    return work


# --- the hash ----------------------------------------------------------------------------------


def test_entry_hash_is_sha256_of_prev_hash_and_canonical_json() -> None:
    paris = timezone(timedelta(hours=1))
    canonical = (
        '{"actor":"slack:U1","at":"2025-03-10T09:30:15.123456+00:00","case_id":7,'
        '"detail":{"a":[1,2.5,"\\u00e9"],"z":1},"kind":"opened"}'
    )
    expected = hashlib.sha256((GENESIS_HASH + canonical).encode()).hexdigest()

    in_paris = T0.astimezone(paris)
    detail = {"z": 1.0, "a": [1, 2.5, "é"]}

    assert GENESIS_HASH == "0" * 64
    assert entry_hash(GENESIS_HASH, 7, in_paris, "slack:U1", "opened", detail) == expected
    assert entry_hash("1" * 64, 7, T0, "slack:U1", "opened", detail) != expected
    with pytest.raises(ValueError, match="naive"):
        entry_hash(GENESIS_HASH, 7, T0.replace(tzinfo=None), "a", "b", {})


# --- appending ---------------------------------------------------------------------------------


async def test_chain_verifies_after_appends_across_cases(store: SqlCaseStore) -> None:
    ids = await seed(store, cases=3, entries_each=3)
    async with store.transaction() as tx:
        await tx.lock_case(ids[0])
        await tx.append_timeline(an_entry(ids[0], 9, detail=AWKWARD_DETAIL))

    result = await verify_chain(store.engine)

    assert result == AuditResult(entries=10, cases=3, first_broken=None, broken=0)
    assert result.ok
    rows = await chain_rows(store.engine)
    for case_id in ids:
        chain = [row for row in rows if row.case_id == case_id]
        assert chain[0].prev_hash == GENESIS_HASH
        assert [row.prev_hash for row in chain[1:]] == [row.hash for row in chain[:-1]]
        for row in chain:
            assert row.hash == entry_hash(
                row.prev_hash, row.case_id, row.at, row.actor, row.kind, row.detail
            )


async def test_appended_entries_read_back_as_written(store: SqlCaseStore) -> None:
    [case_id] = await seed(store, cases=1, entries_each=0)
    async with store.transaction() as tx:
        entry = await tx.append_timeline(an_entry(case_id, 1, detail=AWKWARD_DETAIL))

    assert await store.timeline(case_id) == [entry]
    assert entry.detail["text"] == AWKWARD_DETAIL["text"]
    assert (await verify_chain(store.engine)).ok


async def test_empty_timeline_verifies(store: SqlCaseStore) -> None:
    await seed(store, cases=2, entries_each=0)

    assert await verify_chain(store.engine) == AuditResult(entries=0, cases=0)


async def test_verify_streams_in_small_batches(store: SqlCaseStore) -> None:
    await seed(store, cases=3, entries_each=4)

    assert await verify_chain(store.engine, batch_size=5) == AuditResult(entries=12, cases=3)


async def test_added_entries_are_written_in_order_at_commit(store: SqlCaseStore) -> None:
    first, second = await seed(store, cases=2, entries_each=1)
    async with store.transaction() as tx:
        await tx.add_timeline(an_entry(first, 2))
        await tx.add_timeline(an_entry(second, 3))
        await tx.append_timeline(an_entry(first, 4))  # after the added ones, in the chain too
        await tx.add_timeline(an_entry(first, 5))
        await tx.checkpoint()  # writes what was added, then goes on
        await tx.add_timeline(an_entry(second, 6))

    kinds = [e.actor for e in await store.timeline(first)]
    assert kinds == [an_entry(first, n).actor for n in (0, 2, 4, 5)]
    assert len(await store.timeline(second)) == 3
    assert await verify_chain(store.engine) == AuditResult(entries=7, cases=2)


async def test_added_entries_are_dropped_with_their_transaction(store: SqlCaseStore) -> None:
    [case_id] = await seed(store, cases=1, entries_each=1)
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.add_timeline(an_entry(case_id, 2))
            raise RuntimeError("the transaction fails")

    assert len(await store.timeline(case_id)) == 1
    assert (await verify_chain(store.engine)).ok


async def test_appending_to_a_missing_case_is_refused(store: SqlCaseStore) -> None:
    with pytest.raises(LookupError, match="999999"):
        async with store.transaction() as tx:
            await tx.append_timeline(an_entry(999_999, 1))


async def test_concurrent_appends_to_one_case_keep_one_chain(store: SqlCaseStore) -> None:
    [case_id] = await seed(store, cases=1, entries_each=0)

    async def append(n: int) -> None:
        async with store.transaction() as tx:  # no lock_case: append_timeline takes the lock
            await tx.append_timeline(an_entry(case_id, n))
            await asyncio.sleep(0.01)

    await asyncio.gather(*(append(n) for n in range(6)))

    assert await verify_chain(store.engine) == AuditResult(entries=6, cases=1)


# --- tampering ---------------------------------------------------------------------------------


async def test_a_changed_detail_names_exactly_that_entry(store: SqlCaseStore) -> None:
    ids = await seed(store, cases=3, entries_each=3)
    rows = await chain_rows(store.engine)
    target = [row for row in rows if row.case_id == ids[1]][1]

    await tamper(store.engine, set_values(target.id, detail={"n": 42}))
    result = await verify_chain(store.engine)

    assert result.first_broken == BrokenEntry(target.id, ids[1], target.at, CONTENT_CHANGED)
    assert (result.entries, result.cases, result.broken) == (9, 3, 1)
    assert not result.ok
    assert result.first_broken.describe() == (
        f"entry #{target.id} (case #{ids[1]}, at {target.at.isoformat()}): "
        "hash does not match its content"
    )


async def test_a_rehashed_entry_breaks_the_link_of_the_next(store: SqlCaseStore) -> None:
    [case_id] = await seed(store, cases=1, entries_each=3)
    first, second, third = await chain_rows(store.engine)
    forged = entry_hash(second.prev_hash, case_id, second.at, second.actor, "forged", second.detail)

    await tamper(store.engine, set_values(second.id, kind="forged", hash=forged))
    result = await verify_chain(store.engine)

    assert result.first_broken == BrokenEntry(third.id, case_id, third.at, LINK_BROKEN)
    assert result.broken == 1


@pytest.mark.parametrize(
    ("deleted", "broken", "problem"), [(0, 1, FIRST_LINK_BROKEN), (1, 2, LINK_BROKEN)]
)
async def test_a_deleted_entry_breaks_the_chain_after_it(
    store: SqlCaseStore, deleted: int, broken: int, problem: str
) -> None:
    await seed(store, cases=2, entries_each=3)
    rows = await chain_rows(store.engine)

    await tamper(store.engine, delete_entry(rows[deleted].id))
    result = await verify_chain(store.engine)

    assert result.first_broken == BrokenEntry(
        rows[broken].id, rows[broken].case_id, rows[broken].at, problem
    )
    assert (result.entries, result.broken) == (5, 1)


async def test_the_earliest_broken_entry_is_reported_first(store: SqlCaseStore) -> None:
    ids = await seed(store, cases=2, entries_each=2)
    rows = await chain_rows(store.engine)
    late_in_first_case = [row for row in rows if row.case_id == ids[0]][1]
    early_in_second_case = [row for row in rows if row.case_id == ids[1]][0]
    assert early_in_second_case.id < late_in_first_case.id

    await tamper(store.engine, set_values(late_in_first_case.id, actor="mallory"))
    await tamper(store.engine, set_values(early_in_second_case.id, actor="mallory"))
    result = await verify_chain(store.engine)

    assert result.first_broken is not None
    assert result.first_broken.entry_id == early_in_second_case.id
    assert result.broken == 2


# --- append-only -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        sa.update(TIMELINE).values(actor="mallory"),
        sa.update(TIMELINE).values(detail={"n": 42}),
        sa.delete(TIMELINE),
    ],
    ids=["update", "update-detail", "delete"],
)
async def test_the_database_refuses_to_change_the_timeline(
    store: SqlCaseStore, statement: sa.Executable
) -> None:
    await seed(store, cases=2, entries_each=2)
    before = await chain_rows(store.engine)

    with pytest.raises(DBAPIError, match="case_timeline is append-only"):
        async with store.engine.begin() as connection:
            await connection.execute(statement)

    assert await chain_rows(store.engine) == before
    assert (await verify_chain(store.engine)).ok


async def test_deleting_a_case_with_a_timeline_is_refused(store: SqlCaseStore) -> None:
    [case_id] = await seed(store, cases=1, entries_each=1)

    with pytest.raises(DBAPIError, match="case_timeline is append-only"):
        async with store.engine.begin() as connection:
            await connection.execute(sa.text("DELETE FROM cases WHERE id = :id"), {"id": case_id})

    assert await store.get_case(case_id) is not None


async def test_a_chain_cannot_fork(store: SqlCaseStore) -> None:
    [case_id] = await seed(store, cases=1, entries_each=2)
    first, _ = await chain_rows(store.engine)
    fork = {
        "case_id": case_id,
        "at": T0,
        "actor": "mallory",
        "kind": "note",
        "detail": {},
        "prev_hash": first.hash,  # the second entry already follows the first
        "hash": "f" * 64,
    }

    with pytest.raises(IntegrityError):
        async with store.engine.begin() as connection:
            await connection.execute(sa.insert(TIMELINE).values(**fork))


# --- migration ---------------------------------------------------------------------------------


async def test_migration_chains_existing_entries_and_guards_them(empty_database_url: str) -> None:
    url = empty_database_url
    await upgrade_async(url, "0002")
    engine = create_engine(url)
    legacy = sa.table(
        "case_timeline",
        sa.column("case_id", sa.Integer()),
        sa.column("at", TIMELINE.c.at.type),
        sa.column("actor", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("detail", TIMELINE.c.detail.type),
    )
    try:
        store = SqlCaseStore(engine)
        async with store.transaction() as tx:
            ids = [_id(await tx.new_case(a_case(f"k{i}"))) for i in range(3)]
        async with engine.begin() as connection:
            for n in range(7):
                await connection.execute(
                    sa.insert(legacy).values(
                        case_id=ids[n % 2],  # the third case has no entries
                        at=T0 + timedelta(seconds=n),
                        actor="slack:U1",
                        kind="note",
                        detail={"n": n, "f": 2.0, "nested": [0.5, {"x": None}]},
                    )
                )

        await upgrade_async(url)

        assert await verify_chain(engine) == AuditResult(entries=7, cases=2)
        async with store.transaction() as tx:
            await tx.append_timeline(an_entry(ids[0], 10))
            await tx.append_timeline(an_entry(ids[2], 11))
        assert await verify_chain(engine) == AuditResult(entries=9, cases=3)
        await store.close()
        engine = create_engine(url)
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(sa.update(TIMELINE).values(kind="x"))

        # and back down, and up again
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0002")
        async with engine.begin() as connection:
            await connection.execute(sa.update(legacy).values(kind="edited"))  # no guard at 0002
        await upgrade_async(url)
        assert await verify_chain(engine) == AuditResult(entries=9, cases=3)
    finally:
        await engine.dispose()
