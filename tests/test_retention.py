"""What the hourly prune forgets, on SQLite and PostgreSQL, by the bot's own clock: dead letters
once LOOPKEEPER_DEAD_LETTER_DAYS have passed (and not before: the operator can still send them
again), ended surges once no digest reads them, and nothing still in use."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest

from bot.core.models import OutboundMessage
from bot.core.surge_record import SurgeRecord
from storage.queues import SqlQueues
from storage.repository import SqlCaseStore
from tests.harness import BotUnderTest, running_bot
from tests.support.fake_slack import FakeSlack
from tests.test_storage_contract import a_case

LEASE = timedelta(minutes=1)


async def _dead_outbox(store: SqlCaseStore, key: str, at: datetime) -> int:
    message = OutboundMessage(
        dedupe_key=key,
        method="chat.postMessage",
        payload={"channel": "C0GONE", "text": key},
        next_attempt_at=at,
    )
    async with store.transaction() as tx:
        await tx.enqueue(message)
    [claimed] = [m for m in await store.claim_due(at, LEASE) if m.dedupe_key == key]
    assert claimed.id is not None
    await store.mark_dead(claimed.id, "channel_not_found", at)
    return claimed.id


async def _dead_inbox(store: SqlCaseStore, key: str, at: datetime) -> int:
    assert await store.accept(key, "slack.reaction_added", {"key": key}, at)
    [item] = [i for i in await store.claim_inbox(at, LEASE) if i.payload == {"key": key}]
    await store.bury_inbox(item.id, "the flagged message was deleted", at, [])
    return item.id


async def _dead_ids(queues: SqlQueues) -> tuple[list[int], list[int]]:
    outbox = [q.id for q in await queues.outbox(dead=True)]
    inbox = [q.id for q in await queues.inbox(dead=True)]
    return outbox, inbox


async def test_dead_letters_are_kept_for_the_retention_period_then_deleted(
    database_url: str, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(database_url, slack) as bot:
        store, clock = bot.runtime.store, bot.clock
        queues = SqlQueues(store.engine)
        died = clock.now()
        outbox_id = await _dead_outbox(store, "card-1", died)
        inbox_id = await _dead_inbox(store, "slack:event:Ev1", died)
        retried_id = await _dead_outbox(store, "card-2", died)

        clock.advance(timedelta(days=29))
        await bot.runtime.prune()
        assert await _dead_ids(queues) == ([outbox_id, retried_id], [inbox_id])
        # Within the period the operator sends one again: it waits in the outbox, alive.
        assert await queues.retry_outbox([retried_id]) == [retried_id]

        clock.advance(timedelta(days=1, minutes=1))  # 30 days and a minute after they died
        with caplog.at_level(logging.WARNING, logger="bot.app.runtime"):
            await bot.runtime.prune()

        assert await _dead_ids(queues) == ([], [])
        assert [q.id for q in await queues.outbox(dead=False)] == [retried_id]
        [said] = [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()]
        assert "1 outbox message(s) and 1 inbox item(s)" in said


async def test_the_dead_letter_period_is_the_operators_to_set(
    database_url: str, slack: FakeSlack
) -> None:
    async with running_bot(database_url, slack, dead_letter_days=7) as bot:
        store, clock = bot.runtime.store, bot.clock
        queues = SqlQueues(store.engine)
        await _dead_outbox(store, "card-1", clock.now())

        clock.advance(timedelta(days=6, hours=23))
        await bot.runtime.prune()
        assert len((await _dead_ids(queues))[0]) == 1
        clock.advance(timedelta(hours=2))
        await bot.runtime.prune()
        assert await _dead_ids(queues) == ([], [])


async def _surge(
    bot: BotUnderTest, first_seen: datetime, ended: datetime | None
) -> tuple[int, int]:
    """A surge with one folded case and a card; returns their ids."""
    store = bot.runtime.store
    async with store.transaction() as tx:
        case, _ = await tx.lock_or_create_case(a_case(f"surge-{first_seen.isoformat()}"))
        surge = await tx.open_surge(
            SurgeRecord(
                system_id="support-assistant",
                first_seen_at=first_seen,
                opened_at=first_seen,
                last_case_at=first_seen,
                case_count=21,
            )
        )
        assert surge is not None
        await tx.link_surge_cases(surge.stored_id, [case.stored_id], folded=True)
        await tx.save_surge(surge.model_copy(update={"ended_at": ended}))
    await store.record_surge_card(surge.stored_id, "slack", "C0TRIAGE", first_seen.isoformat())
    return surge.stored_id, case.stored_id


async def test_ended_surges_are_kept_while_a_digest_reads_them_then_deleted(
    database_url: str, slack: FakeSlack
) -> None:
    async with running_bot(database_url, slack) as bot:
        store, now = bot.runtime.store, bot.clock.now()
        hour = timedelta(hours=1)
        old = await _surge(bot, now - timedelta(weeks=6), now - timedelta(weeks=6) + hour)
        last_week = await _surge(bot, now - timedelta(days=8), now - timedelta(days=8) + hour)
        month_ago = await _surge(bot, now - timedelta(weeks=4), now - timedelta(weeks=4) + hour)
        going = await _surge(bot, now - timedelta(weeks=9), None)  # a surge still going

        await bot.runtime.prune()

        assert await store.get_surge(old[0]) is None
        assert await store.surge_card_of(old[0], "slack") is None  # its card place went too
        assert await store.folded_into(old[1]) is None  # and its link to the case
        for surge_id, case_id in (last_week, month_ago, going):
            assert await store.get_surge(surge_id) is not None
            assert await store.surge_card_of(surge_id, "slack") is not None
            folded = await store.folded_into(case_id)
            assert folded is not None and folded.id == surge_id
        assert len(await store.list_cases()) == 4  # the cases themselves are never pruned
