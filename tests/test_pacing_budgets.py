"""Send budgets: the pacing rule, and its store shared by replicas (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.models import OutboundMessage
from bot.core.pacing import Pace, held, take
from storage.database import create_engine
from storage.repository import SqlCaseStore
from storage.send_budgets import SqlSendBudgets

PER_SECOND = Pace(per_second=1.0, burst=3)
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def test_urgent_messages_may_burst_then_go_one_per_interval() -> None:
    tat: float | None = None
    slots = []
    for _ in range(6):
        taken = take(tat, 100.0, PER_SECOND, reserve=True)
        slots.append(taken.wait_until)
        tat = taken.tat
    # Three at once, then each reserves the next free second.
    assert slots == [None, None, None, 101.0, 102.0, 103.0]
    assert tat == 106.0


def test_follow_ups_only_take_a_full_budget_and_leave_the_burst() -> None:
    first = take(None, 100.0, PER_SECOND, reserve=False)
    assert first.wait_until is None
    second = take(first.tat, 100.0, PER_SECOND, reserve=False)
    assert (second.spent, second.tat, second.wait_until) == (False, 101.0, 101.0)
    # The burst is still there for an urgent message meanwhile.
    urgent = take(first.tat, 100.0, PER_SECOND, reserve=True)
    assert urgent.wait_until is None
    assert take(urgent.tat, 100.0, PER_SECOND, reserve=True).wait_until is None


def test_a_hold_blocks_until_the_platform_said_then_one_at_a_time() -> None:
    tat = held(None, 130.0, PER_SECOND)
    assert take(tat, 129.0, PER_SECOND, reserve=True).wait_until == 130.0
    first = take(tat, 130.0, PER_SECOND, reserve=True)
    assert first.wait_until is None
    assert take(first.tat, 130.0, PER_SECOND, reserve=True).wait_until == 131.0


@pytest.fixture
async def replicas(database_url: str, sqlite_fast: bool) -> AsyncIterator[list[SqlSendBudgets]]:
    """Two processes' budgets over one database."""
    stores = [SqlCaseStore(create_engine(database_url, sqlite_fast=sqlite_fast)) for _ in range(2)]
    yield [SqlSendBudgets(store.sessions) for store in stores]
    for store in stores:
        await store.close()


async def test_two_replicas_share_one_budget(replicas: list[SqlSendBudgets]) -> None:
    one, two = replicas
    answers = [
        await budgets.take("slack:channel:C1", START, PER_SECOND, reserve=True)
        for budgets in (one, two, one, two)
    ]
    assert answers == [None, None, None, START + seconds(1)]
    # The fourth holds the slot at +1 s: at +2 s there is one more send for the two of them,
    # not one each.
    later = START + seconds(2)
    assert await two.take("slack:channel:C1", later, PER_SECOND, reserve=True) is None
    assert await one.take("slack:channel:C1", later, PER_SECOND, reserve=True) == START + seconds(3)


async def test_follow_ups_wait_for_a_full_budget_across_replicas(
    replicas: list[SqlSendBudgets],
) -> None:
    one, two = replicas
    assert await one.take("slack:channel:C1", START, PER_SECOND, reserve=False) is None
    assert await two.take("slack:channel:C1", START, PER_SECOND, reserve=False) == START + seconds(
        1
    )
    assert await two.take("slack:channel:C1", START, PER_SECOND, reserve=True) is None
    assert await one.take(
        "slack:channel:C1", START + seconds(1), PER_SECOND, reserve=False
    ) == START + seconds(2)


async def test_replicas_sending_at_once_never_exceed_the_burst(
    replicas: list[SqlSendBudgets],
) -> None:
    one, two = replicas
    answers = await asyncio.gather(
        *(
            budgets.take("slack:channel:C1", START, PER_SECOND, reserve=reserve)
            for budgets in [one, two] * 10
            for reserve in (True, False)
        )
    )
    assert answers.count(None) == PER_SECOND.burst


async def test_reservations_from_two_replicas_get_distinct_slots(
    replicas: list[SqlSendBudgets],
) -> None:
    one, two = replicas
    slots = [
        await budgets.take("slack:channel:C1", START, PER_SECOND, reserve=True)
        for budgets in [one, two] * 3
    ]
    assert slots == [None, None, None, *(START + seconds(n) for n in (1, 2, 3))]


async def test_a_hold_on_one_destination_leaves_the_others_alone(
    replicas: list[SqlSendBudgets],
) -> None:
    one, two = replicas
    await one.take("slack:channel:C1", START, PER_SECOND, reserve=True)
    await one.hold("slack:channel:C1", START + seconds(30), PER_SECOND)
    # Nothing before the hold ends: an urgent message first then, follow-ups one burst later.
    urgent = await two.take("slack:channel:C1", START + seconds(10), PER_SECOND, reserve=True)
    assert urgent == START + seconds(30)
    follow_up = await two.take("slack:channel:C1", START + seconds(10), PER_SECOND, reserve=False)
    assert follow_up == START + seconds(33)
    other = await two.take("slack:channel:C2", START + seconds(10), PER_SECOND, reserve=False)
    assert other is None
    # A hold on a destination never sent to yet holds it too.
    await two.hold("teams:conversation:19:x", START + seconds(5), PER_SECOND)
    assert await one.take(
        "teams:conversation:19:x", START, PER_SECOND, reserve=True
    ) == START + seconds(5)


def queued(key: str) -> OutboundMessage:
    return OutboundMessage(
        dedupe_key=key,
        method="chat.postMessage",
        payload={"channel": "C0TRIAGE", "text": key},
        next_attempt_at=START,
    )


async def test_a_deferred_message_waits_uncounted_and_only_the_first_holds_the_slot(
    store: SqlCaseStore,
) -> None:
    async with store.transaction() as tx:
        await tx.enqueue_all([queued("card:1"), queued("dm:1")])
    claimed = await store.claim_due(START, timedelta(minutes=2), 10)
    assert [m.attempts for m in claimed] == [1, 1]
    ids = [m.id for m in claimed if m.id is not None]
    await store.defer(ids, START + seconds(5), slot_of=ids[0])

    assert await store.claim_due(START + seconds(4), timedelta(minutes=2), 10) == []
    again = await store.claim_due(START + seconds(5), timedelta(minutes=2), 10)
    assert [m.attempts for m in again] == [1, 1]  # the wait was not an attempt
    assert [m.paced_slot for m in again] == [START + seconds(5), None]
    # A slot held for an attempt that fails is spent: the retry queues anew.
    await store.mark_failed(ids[0], "slack error 500", START + seconds(9))
    [retried] = await store.claim_due(START + seconds(9), timedelta(minutes=2), 10)
    assert retried.paced_slot is None
