"""Teams' sender reads a claimed batch's cases, cards and reports once for the batch
(bot/core/read_ahead.py), as Slack's does: Activity JSON posted to /api/messages, the Bot
Connector and Slack faked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.fake_connector import FakeConnector, card_of
from tests.support.fake_slack import FakeSlack
from tests.support.sql_counter import SqlCounter, counting
from tests.teams_harness import (
    TRIAGE,
    TeamsBotUnderTest,
    account,
    ai_message,
    card_texts,
    running_teams_bot,
)
from tests.teams_harness import connector as connector  # a fixture, by its name
from tests.test_delivery_reads import count_claims

FLAGS = 6
TABLES = ("SELECT cases", "SELECT card_locations", "SELECT reports")


@pytest.fixture
async def counted_teams_bot(
    database_url: str, slack: FakeSlack, connector: FakeConnector, tmp_path: Path
) -> AsyncIterator[tuple[TeamsBotUnderTest, SqlCounter]]:
    with counting() as counter:
        async with running_teams_bot(database_url, slack, connector, tmp_path) as bot:
            with counter.attached(bot.runtime.store.engine):
                yield bot, counter


async def test_a_batch_of_teams_cards_reads_cases_cards_and_reports_per_batch(
    counted_teams_bot: tuple[TeamsBotUnderTest, SqlCounter],
) -> None:
    bot, counter = counted_teams_bot
    for n in range(FLAGS):
        status, _ = await bot.submit_report(
            account("dan"), ai_message(f"Answer {n}"), {"category": "hallucination"}
        )
        assert status == 200
    store = bot.runtime.store
    claims = count_claims(store)
    before = counter.kinds()

    await bot.deliver()
    after = counter.kinds()

    posts = [s for s in bot.connector.to(TRIAGE) if s.kind == "send"]
    texts = sorted(card_texts(card_of(p.activity) or {}) for p in posts)
    assert len(texts) == FLAGS
    for case in await store.list_cases():
        assert any(f"Case #{case.id}" in text for text in texts)
        assert await store.card_of(case.id or 0, "teams") is not None
    batches = len([n for n in claims if n])
    reads = {kind: after.get(kind, 0) - before.get(kind, 0) for kind in TABLES}
    # Slack's sender and Teams' each read a batch once (this system triages in both), where
    # each card and each notice read for itself before.
    assert reads == {kind: 2 * batches for kind in TABLES}, batches
