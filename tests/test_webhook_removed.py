"""Events queued for a webhook that routing.yaml no longer lists end at once, dropped with the
reason on their row and one log line, instead of being retried to a dead letter with an error
about a missing secret; the webhooks still listed get theirs."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.core.clock import ManualClock
from storage.queues import SqlQueues
from tests.harness import BotUnderTest, running_bot
from tests.support.fake_slack import FakeSlack
from tests.test_webhooks import (
    REPORT,
    SECRET,
    deliver_hooks,
    hook,
    receiver,
    routing_with_webhooks,
)
from tests.webhook_receiver import WebhookReceiver

__all__ = ["receiver"]  # the fixture, found by pytest among this module's names

REMOVED = "is no longer configured in routing.yaml"


@pytest.fixture
async def removed(receiver: WebhookReceiver) -> AsyncIterator[WebhookReceiver]:
    """A second receiver, whose webhook the operator takes out of routing.yaml."""
    found = WebhookReceiver(SECRET, ManualClock())
    await found.start()
    yield found
    await found.stop()


@pytest.fixture
async def queued(
    database_url: str,
    slack: FakeSlack,
    receiver: WebhookReceiver,
    removed: WebhookReceiver,
    tmp_path: Path,
) -> None:
    """Two cases opened while both webhooks are listed; the bot stops before sending any."""
    both = routing_with_webhooks(tmp_path, hook(receiver.url), hook(removed.url))
    async with running_bot(database_url, slack, both) as bot:
        assert (await bot.ingest(REPORT)).status == 201
        second = {**REPORT, "trace_id": "trace-43", "message_link": "https://chat.example.com/m/2"}
        assert (await bot.ingest(second)).status == 201


async def _ended(bot: BotUnderTest) -> list[tuple[str, int, bool]]:
    """(last error, attempts, dead) of the webhook messages that were not sent."""
    async with bot.runtime.store.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT last_error, attempts, dead_at IS NOT NULL FROM outbox "
                "WHERE platform = 'webhook' AND last_error IS NOT NULL ORDER BY id"
            )
        )
        return [(str(r[0]), int(r[1]), bool(r[2])) for r in rows]


async def _waiting(bot: BotUnderTest) -> int:
    """Webhook messages still to be sent (or dead-lettered, waiting for an operator)."""
    async with bot.runtime.store.engine.connect() as connection:
        waiting = await connection.execute(
            text("SELECT count(*) FROM outbox WHERE platform = 'webhook' AND delivered_at IS NULL")
        )
        return int(waiting.scalar_one())


async def _dropped_metric(bot: BotUnderTest) -> float:
    """What an operator's dashboard reads: `loopkeeper_outbox_dropped` in /metrics."""
    exposition = await (await bot.http.get(f"{bot.base_url}/metrics")).text()
    found = re.search(r"^loopkeeper_outbox_dropped (\S+)$", exposition, re.MULTILINE)
    assert found is not None, "no loopkeeper_outbox_dropped in /metrics"
    return float(found.group(1))


def _said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and REMOVED in r.getMessage()
    ]


@pytest.mark.usefixtures("queued")
async def test_a_removed_webhooks_events_are_dropped_once_and_the_others_delivered(
    database_url: str,
    slack: FakeSlack,
    receiver: WebhookReceiver,
    removed: WebhookReceiver,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kept = routing_with_webhooks(tmp_path, hook(receiver.url))

    async with running_bot(database_url, slack, kept) as bot:
        receiver.clock = bot.clock
        with caplog.at_level(logging.WARNING):
            assert await deliver_hooks(bot) == 2
            assert await deliver_hooks(bot) == 0
        ended = await _ended(bot)
        assert await SqlQueues(bot.runtime.store.engine).outbox(dead=True) == []
        assert await _waiting(bot) == 0
        assert await _dropped_metric(bot) == 2

    assert len(receiver.events) == 2
    assert removed.attempts == []
    origin = removed.url.removesuffix("/hook")
    reason = f"dropped: webhook {origin}/… {REMOVED}"
    assert ended == [(reason, 1, False), (reason, 1, False)]  # tried once, never dead
    [line] = _said(caplog)  # one line for both events
    assert origin in line and "/hook" not in line  # the path may hold a token: not logged


@pytest.mark.usefixtures("queued")
async def test_with_no_webhook_left_their_events_are_dropped_by_the_main_loop(
    database_url: str,
    slack: FakeSlack,
    receiver: WebhookReceiver,
    removed: WebhookReceiver,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    none = routing_with_webhooks(tmp_path)  # the whole section taken out

    async with running_bot(database_url, slack, none) as bot:
        assert bot.runtime.webhooks is None
        with caplog.at_level(logging.WARNING):
            await bot.deliver()
        ended = await _ended(bot)
        assert await SqlQueues(bot.runtime.store.engine).outbox(dead=True) == []
        assert await _waiting(bot) == 0
        assert await _dropped_metric(bot) == 4

    assert receiver.attempts == [] and removed.attempts == []
    assert len(ended) == 4 and all(e[0].startswith("dropped: webhook ") for e in ended)
    assert len(_said(caplog)) == 2  # one line per receiver, not one per event
