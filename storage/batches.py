"""Many items in one write transaction, and when the store commits part of it.

A backlog of flags is filed in one transaction: one commit and one outbox insert for the lot.
On SQLite that transaction holds the process's one writer, and an ack arriving meanwhile must
not wait for the whole lot (Slack gives it three seconds): between two items, if an ack waits
for the writer (bot/core/burst_priorities.py: `WriterTurns`), the items done so far are
committed with their messages and the ack goes through first. PostgreSQL has no such writer:
its batches commit once, at the end.

Work done set-based (`in_chunks`: one statement per table for many items) can only be committed
between chunks: SQLite's chunks are small, so that an ack waits for one chunk's work at most.
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

ACK_TURNS = 4
SQLITE_CHUNK = 8
"""Items in a chunk when the process has one writer and an ack waited for the last one: what
an ack may wait behind. Chunks double while no ack waits."""


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


async def in_chunks(
    tx: SqlCaseTransaction,
    items: Sequence[Item],
    work: Callable[
        [CaseTransaction, Sequence[Item]],
        Awaitable[tuple[Sequence[Done], Sequence[OutboundMessage]]],
    ],
    *,
    single_writer: bool,
) -> tuple[list[Done], int]:
    """Do `work` for the items a chunk at a time in `tx` (all at once without a single writer),
    queueing the messages of each chunk; the results, in order, and how many messages were new.
    A chunk is committed whole or not at all: an ack that waits is let through between two."""
    if not single_writer:
        results, messages = await work(tx, items)
        return list(results), await tx.enqueue_all(messages)
    done: list[Done] = []
    queued = 0
    start, size = 0, SQLITE_CHUNK
    while start < len(items):
        if start:
            # A chunk runs its SQLite statements without yielding: an ack that arrived
            # meanwhile needs a few turns of the loop (its request read, its handler, its
            # group's writer) to be seen waiting for the writer.
            for _ in range(ACK_TURNS):
                await asyncio.sleep(0)
            if tx.should_checkpoint():
                await tx.checkpoint()
                size = SQLITE_CHUNK
            else:
                size *= 2  # no ack is waiting: fewer, larger chunks
        results, messages = await work(tx, items[start : start + size])
        done += results
        queued += await tx.enqueue_all(messages)
        start += size
    return done, queued
