"""Claiming the outbox by platform (storage/outbox_lanes.py), on SQLite and PostgreSQL: the
chat loop and the webhook loop each take only their own messages, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app.webhooks import CHAT, WEBHOOKS
from bot.core.models import OutboundMessage
from storage.repository import SqlCaseStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def message(key: str, platform: str) -> OutboundMessage:
    return OutboundMessage(
        dedupe_key=key, platform=platform, method="m", payload={}, next_attempt_at=NOW
    )


async def test_each_loop_claims_only_its_platforms(store: SqlCaseStore) -> None:
    async with store.transaction() as tx:
        await tx.enqueue_all(
            [
                message("a", "slack"),
                message("b", "webhook"),
                message("c", "teams"),
                message("d", "webhook"),
            ]
        )
    lease = timedelta(minutes=1)
    hooks = await store.claim_due(NOW, lease, 10, WEBHOOKS)
    assert [m.dedupe_key for m in hooks] == ["b", "d"]
    chat = await store.claim_due(NOW, lease, 10, CHAT)
    assert [m.dedupe_key for m in chat] == ["a", "c"]
    assert await store.claim_due(NOW, lease, 10) == []  # all leased now
    later = NOW + 2 * lease
    assert [m.dedupe_key for m in await store.claim_due(later, lease, 1, WEBHOOKS)] == ["b"]
    assert [m.attempts for m in await store.claim_due(later, lease, 10)] == [2, 2, 2]
