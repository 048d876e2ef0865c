"""Filing a backlog of flags set-based: a batch's delivery ids, cases, reports, timeline, timers
and messages each take one statement for many flags, on SQLite and PostgreSQL, and the batch
files exactly what filing the flags one by one would.

End to end: signed reaction events to /slack/events (acked, queued in the inbox), then the
inbox worker files them as it would after a burst; the SQL it sends is counted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.models import CaseStatus
from storage.audit import verify_chain
from storage.repository import SqlCaseStore
from tests.conftest import STORAGE_BACKENDS
from tests.harness import BotUnderTest, running_bot
from tests.support.fake_slack import FakeSlack
from tests.support.sql_counter import Counts, SqlCounter
from tests.test_storage_contract import a_case, store_case
from tests.test_surge import SURGE, surge_routing

BACKLOG = 48


@pytest.fixture(params=STORAGE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def ai_message(ts: str) -> dict[str, Any]:
    return {"type": "message", "ts": ts, "text": f"Answer {ts}", "bot_id": "B0SUPPORT"}


@pytest.fixture
async def counted(
    database_url: str, slack: FakeSlack
) -> AsyncIterator[tuple[BotUnderTest, SqlCounter]]:
    counter = SqlCounter()
    counter.watch_inline_sqlite()  # before the bot's engine opens its connections
    try:
        async with running_bot(database_url, slack) as bot:
            counter.attach(bot.runtime.store.engine)
            yield bot, counter
    finally:
        counter.unwatch()


async def flag_outputs(bot: BotUnderTest, first: int, count: int, user: str = "U0ALICE") -> None:
    """`count` distinct AI answers flagged, acked and queued, not yet filed."""
    for n in range(first, first + count):
        ts = f"1700000000.{n:06d}"
        bot.slack.add_message("C0SUPPORT", ai_message(ts))
        response = await bot.react(user, "x", "C0SUPPORT", ts, process=False)
        assert response.status == 200


async def filing(bot: BotUnderTest, counter: SqlCounter) -> Counts:
    before = counter.counts()
    await bot.runtime.inbox.drain()
    return counter.counts() - before


async def test_a_backlog_is_filed_in_a_handful_of_statements_not_a_few_per_flag(
    counted: tuple[BotUnderTest, SqlCounter],
) -> None:
    bot, counter = counted
    await flag_outputs(bot, 1, BACKLOG)

    spent = await filing(bot, counter)

    cases = await bot.runtime.store.list_cases()
    assert len(cases) == BACKLOG
    assert all(case.report_count == 1 and case.status is CaseStatus.new for case in cases)
    # One by one, a flag took four statements (its delivery id, case, report and timers; the
    # timeline and messages were shared): 197 for this backlog. Set-based, it is a statement
    # per table per chunk, and SQLite's chunks grow while no ack waits.
    assert spent.statements <= BACKLOG / 2, spent
    assert spent.commits <= 3, spent  # the batch, and marking its inbox items done


async def test_a_batch_files_what_one_by_one_filing_would(
    counted: tuple[BotUnderTest, SqlCounter],
) -> None:
    bot, _ = counted
    store = bot.runtime.store
    # Closed before the batch: flagged again in it, twice, it reopens once.
    bot.slack.add_message("C0SUPPORT", ai_message("1700000000.000900"))
    await bot.react("U0CAROL", "x", "C0SUPPORT", "1700000000.000900")
    [closed] = await store.list_cases()
    async with store.transaction() as tx:
        await tx.save_case(closed.model_copy(update={"status": CaseStatus.resolved}))

    await flag_outputs(bot, 1, 3, user="U0ALICE")  # three new outputs
    await flag_outputs(bot, 1, 1, user="U0BOB")  # one of them, by someone else
    await flag_outputs(bot, 900, 1, user="U0ALICE")  # the closed case, twice
    await flag_outputs(bot, 900, 1, user="U0BOB")
    await bot.runtime.inbox.drain()

    by_ts = {case.output_ts: case for case in await store.list_cases()}
    assert len(by_ts) == 4
    first = by_ts["1700000000.000001"]
    assert first.report_count == 2  # joined in the same batch that opened it
    assert {r.reporter_id for r in await store.reports_of(first.stored_id)} == {
        "slack:U0ALICE",
        "slack:U0BOB",
    }
    reopened = by_ts["1700000000.000900"]
    assert reopened.status is CaseStatus.new and reopened.report_count == 3
    kinds = [entry.kind for entry in await store.timeline(reopened.stored_id)]
    assert kinds.count("reopened") == 1
    audit = await verify_chain(store.engine)
    assert audit.ok and audit.cases == 4, audit  # every case's timeline chain is intact

    await bot.deliver()
    cards = [c for c in bot.slack.calls_to("chat.postMessage") if c.get("channel") != "U0ALICE"]
    card_cases = {str(c.get("metadata", {}).get("event_payload", {}).get("case_id")) for c in cards}
    assert {str(case.id) for case in by_ts.values()} <= card_cases  # every case has its card


async def test_delivery_ids_and_cases_claimed_together_count_each_once(
    store: SqlCaseStore,
) -> None:
    existing = await store_case(store, a_case("out:old"))
    async with store.transaction() as tx:
        assert await tx.claim_deliveries(["ev:1", "ev:1", "ev:2"]) == {"ev:1", "ev:2"}
        assert await tx.claim_deliveries(["ev:2", "ev:3"]) == {"ev:3"}  # ev:2 seen
        opened = await tx.lock_or_create_cases(
            [a_case("out:new"), a_case("out:old"), a_case("out:new", owner="bob")]
        )

    [(new, created), (old, old_created), (again, again_created)] = opened
    assert created and not old_created and not again_created
    assert old.id == existing.id and old.owner == existing.owner
    assert again.id == new.id and again.owner == "alice"  # the first one of a key is the case
    assert sorted(c.output_key for c in await store.list_cases()) == ["out:new", "out:old"]


async def test_a_backlog_folded_into_a_surge_is_filed_set_based_too(
    database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    counter = SqlCounter()
    counter.watch_inline_sqlite()
    try:
        async with running_bot(database_url, slack, surge_routing(tmp_path)) as bot:
            counter.attach(bot.runtime.store.engine)
            await flag_outputs(bot, 1, BACKLOG)

            spent = await filing(bot, counter)

            store = bot.runtime.store
            cases = await store.list_cases()
            folded = [c for c in cases if await store.folded_into(c.stored_id) is not None]
    finally:
        counter.unwatch()
    assert len(cases) == BACKLOG
    threshold = SURGE["cases"]
    assert isinstance(threshold, int)
    assert len(folded) == BACKLOG - threshold  # the first 20 were announced on their own
    assert min(c.stored_id for c in folded) > max(
        c.stored_id for c in cases if c not in folded
    )  # in the order filed, though stored together
    # Until the surge opens each new case reads its system's recent cases; then the surge is
    # locked once, and its count and the cases folded into it are written once, with the batch.
    assert spent.statements <= BACKLOG, spent
