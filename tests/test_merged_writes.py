"""Writes that arrive together share one transaction and, when they are alike, one statement
(storage/group_commit.py, storage/merged_writes.py): what the benchmark's statements and
commits per flag rely on. Counted on what the store really sends, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import StatementError

from bot.core.models import OutboundMessage
from storage.database import create_engine
from storage.repository import SqlCaseStore
from tests.support.sql_counter import SqlCounter, counting
from tests.test_storage_contract import a_case

T0 = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)


@pytest.fixture
async def counted(
    database_url: str, sqlite_fast: bool
) -> AsyncIterator[tuple[SqlCaseStore, SqlCounter]]:
    with counting() as counter:
        store = SqlCaseStore(create_engine(database_url, sqlite_fast=sqlite_fast))
        try:
            with counter.attached(store.engine):
                await store.accept("warm-up", "k", {}, T0)  # connection set-up: not counted
                yield store, counter
        finally:
            await store.close()


def _delta(counter: SqlCounter, before: dict[str, int], kind: str) -> int:
    return counter.kinds().get(kind, 0) - before.get(kind, 0)


async def test_acks_arriving_together_are_one_insert_in_one_commit_and_all_durable(
    counted: tuple[SqlCaseStore, SqlCounter],
) -> None:
    store, counter = counted
    before, kinds = counter.counts(), counter.kinds()

    accepted = await asyncio.gather(
        *(store.accept(f"slack:event:Ev{i}", "k", {"n": i}, T0) for i in range(20))
    )

    done = counter.counts() - before
    assert accepted == [True] * 20
    assert done.commits == 1
    assert _delta(counter, kinds, "INSERT inbox") == 1
    assert await store.inbox_pending() == 20 + 1  # the warm-up's too
    claimed = await store.claim_inbox(T0, timedelta(minutes=1), limit=50)
    assert sorted(item.payload["n"] for item in claimed if item.key != "warm-up") == list(range(20))


async def test_a_duplicate_ack_in_a_merged_group_is_still_refused(
    counted: tuple[SqlCaseStore, SqlCounter],
) -> None:
    store, counter = counted
    kinds = counter.kinds()
    keys = ["slack:event:A", "slack:event:B", "slack:event:A", "warm-up", "slack:event:C"]

    accepted = await asyncio.gather(
        *(store.accept(key, "k", {"i": i}, T0) for i, key in enumerate(keys))
    )

    # The first of a key goes in; a second of the same key, or one seen before, is a duplicate.
    assert accepted == [True, True, False, False, True]
    assert _delta(counter, kinds, "INSERT inbox") == 1
    claimed = await store.claim_inbox(T0, timedelta(minutes=1), limit=50)
    assert {item.key: item.payload for item in claimed}["slack:event:A"] == {"i": 0}


async def test_an_unstorable_ack_fails_alone_in_a_merged_group(
    counted: tuple[SqlCaseStore, SqlCounter],
) -> None:
    store, _counter = counted
    payloads: list[dict[str, object]] = [{"ok": 1}, {"at": object()}, {"ok": 2}]  # not JSON

    results = await asyncio.gather(
        *(store.accept(f"k{i}", "k", p, T0) for i, p in enumerate(payloads)),
        return_exceptions=True,
    )

    assert results[0] is True and results[2] is True
    assert isinstance(results[1], StatementError | TypeError)  # as when written alone
    assert await store.inbox_pending() == 2 + 1


async def test_lanes_marked_delivered_together_are_one_update(
    counted: tuple[SqlCaseStore, SqlCounter],
) -> None:
    store, counter = counted
    async with store.transaction() as tx:
        await tx.enqueue_all(
            [
                OutboundMessage(
                    dedupe_key=f"m{i}", method="chat.postMessage", payload={}, next_attempt_at=T0
                )
                for i in range(6)
            ]
        )
    claimed = await store.claim_due(T0, timedelta(minutes=2))
    ids = [m.id for m in claimed if m.id is not None]
    kinds = counter.kinds()

    await asyncio.gather(*(store.mark_delivered(ids[i : i + 2], T0) for i in range(0, 6, 2)))

    assert _delta(counter, kinds, "UPDATE outbox") == 1
    assert await store.pending_count() == 0


async def test_cards_recorded_together_are_one_insert_and_the_last_of_a_case_wins(
    counted: tuple[SqlCaseStore, SqlCounter],
) -> None:
    store, counter = counted
    first = await _a_case(store, "out-1")
    second = await _a_case(store, "out-2")
    kinds = counter.kinds()

    await asyncio.gather(
        store.record_card(first, "slack", "C1", "1.0"),
        store.record_card(second, "slack", "C1", "2.0"),
        store.record_card(first, "slack", "C1", "3.0"),
        store.record_card(first, "teams", "19:x", "a"),
    )

    assert _delta(counter, kinds, "INSERT card_locations") == 1
    card = await store.card_of(first, "slack")
    assert card is not None and card.message_id == "3.0"
    assert [c.platform for c in await store.cards_of(first)] == ["slack", "teams"]
    other = await store.card_of(second, "slack")
    assert other is not None and other.message_id == "2.0"


async def _a_case(store: SqlCaseStore, key: str) -> int:
    async with store.transaction() as tx:
        case = await tx.new_case(a_case(key))
    assert case.id is not None
    return case.id


async def test_cards_recorded_a_few_loop_turns_apart_share_one_commit(
    counted: tuple[SqlCaseStore, SqlCounter],
) -> None:
    """As the answers to one batch's card posts arrive: close together, not in one turn."""
    store, counter = counted
    cases = [await _a_case(store, f"out-{n}") for n in range(4)]
    before = counter.counts()

    async def posted(n: int) -> None:
        for _ in range(n):
            await asyncio.sleep(0)
        await store.record_card(cases[n], "slack", "C1", f"{n}.0")

    await asyncio.gather(*(posted(n) for n in range(4)))

    assert (counter.counts() - before).commits == 1
    assert [(await store.card_of(c, "slack") or None) is not None for c in cases] == [True] * 4


async def test_on_postgresql_a_group_of_one_statement_and_a_claim_send_no_begin(
    counted: tuple[SqlCaseStore, SqlCounter], database_url: str
) -> None:
    # Each BEGIN and COMMIT is a round trip the ack waits for, behind whatever else the event
    # loop is doing; a statement alone is atomic anyway. SQLite's writer still takes turns.
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite sends no round trips: its transactions are a lock in this process")
    store, counter = counted
    before = counter.counts()

    accepted = await asyncio.gather(
        *(store.accept(f"slack:event:Ev{i}", "k", {"n": i}, T0) for i in range(5))
    )
    claimed = await store.claim_inbox(T0, timedelta(minutes=1), limit=50)

    done = counter.counts() - before
    assert accepted == [True] * 5
    assert len(claimed) == 5 + 1  # the warm-up's too
    assert done.begins == 0
    assert (done.statements, done.commits) == (2, 2)  # each write commits on its own


async def test_a_write_whose_caller_gave_up_is_committed_and_its_group_still_answered(
    counted: tuple[SqlCaseStore, SqlCounter],
) -> None:
    store, _counter = counted
    gone = asyncio.create_task(store.accept("slack:event:gone", "k", {}, T0))
    kept = [asyncio.create_task(store.accept(f"slack:event:k{i}", "k", {}, T0)) for i in range(3)]
    await asyncio.sleep(0)  # every write queued for the next group
    gone.cancel()  # e.g. the request's client went away

    assert await asyncio.gather(*kept) == [True] * 3
    with pytest.raises(asyncio.CancelledError):
        await gone
    # Its row was written with the group: Slack's retry of that event is a duplicate.
    assert await store.accept("slack:event:gone", "k", {}, T0) is False
