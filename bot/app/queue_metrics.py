"""Prometheus gauges of the inbox and outbox: what waits and what is dead-lettered (read from
the database at each scrape), and this process's failed attempts and dead letters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Gauge

from bot.core.inbox import InboxWorker
from bot.core.outbox import OutboxDispatcher
from storage.queues import SqlQueues


async def refresh_all(refreshes: tuple[Callable[[], Awaitable[None]], ...]) -> None:
    for refresh in refreshes:
        await refresh()


def queue_metrics(
    registry: CollectorRegistry,
    queues: SqlQueues,
    inbox: InboxWorker,
    dispatcher: OutboxDispatcher,
    webhooks: OutboxDispatcher | None = None,
) -> Callable[[], Awaitable[None]]:
    """Gauges of what waits and what is dead-lettered in the inbox and outbox (all processes:
    read from the database at each scrape, by the refresh returned), and of this process's
    failed attempts, dead letters and messages dropped (by either outbox loop)."""
    loops = [dispatcher] + ([webhooks] if webhooks is not None else [])
    sizes = {
        (queue, state): Gauge(
            f"loopkeeper_{queue}_{state}",
            f"{queue.capitalize()} items {what}, in the database",
            registry=registry,
        )
        for queue in ("inbox", "outbox")
        for state, what in (("pending", "still tried"), ("dead", "dead-lettered"))
    }
    for name, help_text, read in (
        ("inbox_failures", "Failed attempts at filing an inbox item", lambda: inbox.failures),
        ("inbox_dead_lettered", "Inbox items dead-lettered", lambda: inbox.dead_lettered),
        ("outbox_failures", "Failed outbox deliveries", lambda: dispatcher.failures),
        ("outbox_dead_lettered", "Outbox messages dead-lettered", lambda: dispatcher.dead_lettered),
        (
            "outbox_paced",
            "Outbox messages that waited for their destination's rate",
            lambda: dispatcher.paced,
        ),
        (
            "outbox_throttled",
            "Outbox sends the platform asked to retry after a while (429, or busy)",
            lambda: dispatcher.throttled,
        ),
        (
            "outbox_dropped",
            "Outbox messages ended unsent, on purpose (events for a webhook no longer in "
            "routing.yaml)",
            lambda: sum(loop.dropped for loop in loops),
        ),
    ):
        Gauge(f"loopkeeper_{name}", f"{help_text} by this process", registry=registry).set_function(
            read
        )

    async def refresh() -> None:
        counts = await queues.counts()
        sizes[("inbox", "pending")].set(counts.inbox_pending)
        sizes[("inbox", "dead")].set(counts.inbox_dead)
        sizes[("outbox", "pending")].set(counts.outbox_pending)
        sizes[("outbox", "dead")].set(counts.outbox_dead)

    return refresh
