"""Many items in one write transaction, and when the store commits part of it.

A backlog of flags is filed in one transaction: one commit and one outbox insert for the lot.
On SQLite that transaction holds the process's one writer, and an ack arriving meanwhile must
not wait for the whole lot (Slack gives it three seconds): between two items, if an ack waits
for the writer (bot/core/burst_priorities.py: `WriterTurns`), the items done so far are
committed with their messages and the ack goes through first. PostgreSQL has no such writer:
its batches commit once, at the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from bot.core.models import OutboundMessage

if TYPE_CHECKING:
    from bot.core.ports import CaseTransaction
    from storage.transaction import SqlCaseTransaction

Item = TypeVar("Item")
Done = TypeVar("Done")


async def each_in_turn(
    tx: SqlCaseTransaction,
    items: Sequence[Item],
    work: Callable[[CaseTransaction, Item], Awaitable[tuple[Done, Sequence[OutboundMessage]]]],
    *,
    single_writer: bool,
) -> tuple[list[Done], int]:
    """Do `work` for each item in `tx`, queueing the messages each returns; the results, in
    order, and how many messages were new (not queued before under their dedupe keys)."""
    done: list[Done] = []
    messages: list[OutboundMessage] = []
    queued = 0
    for item in items:
        if single_writer:
            # SQLite statements run on the event loop: let it read what arrived meanwhile, so
            # an ack now waiting for the writer is seen here.
            await asyncio.sleep(0)
        if messages and tx.should_checkpoint():
            queued += await tx.enqueue_all(messages)
            messages = []
            await tx.checkpoint()
        result, more = await work(tx, item)
        done.append(result)
        messages += more
    queued += await tx.enqueue_all(messages)
    return done, queued
