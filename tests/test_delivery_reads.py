"""Delivering a claimed batch of case notices reads their cases, cards and reports once for the
batch (handlers/slack/case_delivery.py `claimed`), not three times per card: the statements
per flag the benchmark counts. Driven through the bot's real routes, Slack faked."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from handlers.slack.card import card_blocks, card_text
from storage.repository import SqlCaseStore
from tests.harness import BotUnderTest, running_bot
from tests.support.fake_slack import FakeSlack
from tests.support.sql_counter import SqlCounter, counting

FLAGS = 12
TRIAGE = "C0TRIAGE"


@pytest.fixture
async def counted_bot(
    database_url: str, slack: FakeSlack
) -> AsyncIterator[tuple[BotUnderTest, SqlCounter]]:
    with counting() as counter:
        async with running_bot(database_url, slack) as bot:
            with counter.attached(bot.runtime.store.engine):
                yield bot, counter


def count_claims(store: SqlCaseStore) -> list[int]:
    """From now on, how many messages each claim of the outbox got, in order."""
    claims: list[int] = []
    claim_due = store.claim_due

    async def counted_claim(*args: Any, **kwargs: Any) -> Any:
        claimed = await claim_due(*args, **kwargs)
        claims.append(len(claimed))
        return claimed

    store.claim_due = counted_claim  # type: ignore[method-assign]
    return claims


def _ai_message(ts: str) -> dict[str, Any]:
    return {
        "type": "message",
        "ts": ts,
        "text": "The refund window is 90 days.",
        "bot_id": "B0SUPPORT",
    }


async def _flag(bot: BotUnderTest, count: int, first: int = 0) -> None:
    for n in range(first, first + count):
        ts = f"1700000000.{n:06d}"
        bot.slack.add_message("C0SUPPORT", _ai_message(ts))
        await bot.react(f"U0R{n}", "x", "C0SUPPORT", ts, process=False)
    await bot.runtime.inbox.drain()


def _reads(counter: SqlCounter, before: dict[str, int]) -> dict[str, int]:
    after = counter.kinds()
    tables = ("SELECT cases", "SELECT card_locations", "SELECT reports")
    return {kind: after.get(kind, 0) - before.get(kind, 0) for kind in tables}


async def test_a_batch_of_cards_reads_its_cases_cards_and_reports_once(
    counted_bot: tuple[BotUnderTest, SqlCounter],
) -> None:
    bot, counter = counted_bot
    await _flag(bot, FLAGS)
    store = bot.runtime.store
    claims = count_claims(store)
    before = counter.kinds()

    await bot.deliver()

    cards = [c for c in bot.slack.calls_to("chat.postMessage") if c["channel"] == TRIAGE]
    assert len(cards) == FLAGS
    batches = len([n for n in claims if n])
    assert 1 < batches < FLAGS  # a flag's notices are several messages, a batch several flags
    # One read per table for each claimed batch, where each card used to read all three.
    assert _reads(counter, before) == {
        "SELECT cases": batches,
        "SELECT card_locations": batches,
        "SELECT reports": batches,
    }
    # Per batch: its claim, one statement, and one mark of all it delivered (not per lane),
    # committed with the next claim (the last batch's on its own).
    after = counter.kinds()
    assert after["UPDATE outbox"] - before.get("UPDATE outbox", 0) == 2 * batches
    assert after.get("SELECT outbox", 0) - before.get("SELECT outbox", 0) == 0
    claims_and_marks = "COMMIT after UPDATE outbox"
    assert after[claims_and_marks] - before.get(claims_and_marks, 0) == batches + 1
    for case in await bot.runtime.store.list_cases():
        assert case.id is not None
        assert await bot.runtime.store.card_of(case.id, "slack") is not None


async def test_a_card_from_the_batch_read_is_the_card_its_own_reads_render(
    counted_bot: tuple[BotUnderTest, SqlCounter],
) -> None:
    bot, _counter = counted_bot
    await _flag(bot, 3)
    await bot.react("U0LATE", "x", "C0SUPPORT", "1700000000.000001", process=False)
    await bot.runtime.inbox.drain()  # the second case has two reports before its card goes

    await bot.deliver()

    cards = [c for c in bot.slack.calls_to("chat.postMessage") if c["channel"] == TRIAGE]
    assert len(cards) == 3
    store, routing = bot.runtime.store, bot.runtime.routing
    for card in cards:
        metadata = _json(card["metadata"])
        case = await store.get_case(int(metadata["event_payload"]["case_id"]))
        assert case is not None and case.id is not None
        reports = await store.reports_of(case.id)
        assert _json(card["blocks"]) == card_blocks(case, reports, routing, "U0ALICE")
        assert card["text"] == card_text(case, routing)
    assert {len(await store.reports_of(c.id or 0)) for c in await store.list_cases()} == {1, 2}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
