"""A batch of items in one transaction (CaseStore.each_in_transaction), on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bot.core.models import OutboundMessage
from bot.core.ports import CaseTransaction
from storage.repository import SqlCaseStore
from tests.conftest import STORAGE_BACKENDS
from tests.test_storage_contract import T0, a_case, a_message

ACK_PATIENCE = 10.0  # seconds; only a deadlock would reach it


@pytest.fixture(params=STORAGE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_a_batch_files_each_item_and_queues_its_messages_once(store: SqlCaseStore) -> None:
    async def work(tx: CaseTransaction, key: str) -> tuple[str, list[OutboundMessage]]:
        await tx.new_case(a_case(key))
        return key.upper(), [a_message(f"card:{key}"), a_message("shared")]

    done, queued = await store.each_in_transaction(["a", "b", "c"], work)

    assert done == ["A", "B", "C"]
    assert queued == 4  # three cards, and the message they share by dedupe key once
    assert [c.output_key for c in await store.list_cases()] == ["a", "b", "c"]
    assert await store.pending_count() == 4


async def test_an_ack_arriving_during_a_long_batch_is_not_held_until_its_end(
    store: SqlCaseStore,
) -> None:
    keys = [f"flag-{n}" for n in range(10)]
    ack: asyncio.Task[bool] | None = None

    async def work(tx: CaseTransaction, key: str) -> tuple[str, list[OutboundMessage]]:
        nonlocal ack
        if key == keys[-1]:
            assert ack is not None
            # SQLite's one writer: the batch committed the flags before and let the ack through.
            assert await asyncio.wait_for(asyncio.shield(ack), ACK_PATIENCE) is True
        await tx.new_case(a_case(key))
        if key == keys[0]:
            ack = asyncio.create_task(store.accept("slack:event:Ev1", "k", {}, T0))
        return key, [a_message(key)]

    done, queued = await store.each_in_transaction(keys, work)

    assert done == keys and queued == len(keys)
    assert [c.output_key for c in await store.list_cases()] == keys
    assert await store.inbox_pending() == 1


async def test_a_batch_that_fails_keeps_nothing_unless_it_let_an_ack_through(
    store: SqlCaseStore,
) -> None:
    async def work(tx: CaseTransaction, key: str) -> tuple[str, list[OutboundMessage]]:
        if key == "broken":
            raise RuntimeError("this item cannot be filed")
        await tx.new_case(a_case(key))
        return key, [a_message(key)]

    with pytest.raises(RuntimeError):
        await store.each_in_transaction(["kept?", "broken"], work)

    assert await store.list_cases() == []  # no ack waited: all or none
    assert await store.pending_count() == 0


async def test_an_ack_arriving_during_a_set_based_batch_waits_for_one_chunk_at_most(
    store: SqlCaseStore,
) -> None:
    keys = [f"flag-{n}" for n in range(40)]
    ack: asyncio.Task[bool] | None = None
    chunks: list[list[str]] = []

    async def work(
        tx: CaseTransaction, chunk: Sequence[str]
    ) -> tuple[list[str], list[OutboundMessage]]:
        nonlocal ack
        if chunks:
            assert ack is not None
            # SQLite's one writer: the chunk before was committed and the ack let through.
            assert await asyncio.wait_for(asyncio.shield(ack), ACK_PATIENCE) is True
        chunks.append(list(chunk))
        for key in chunk:
            await tx.new_case(a_case(key))
        if ack is None:
            ack = asyncio.create_task(store.accept("slack:event:Ev1", "k", {}, T0))
        return list(chunk), [a_message(key) for key in chunk]

    done, queued = await store.in_chunks(keys, work)

    assert done == keys and queued == len(keys)
    assert [c.output_key for c in await store.list_cases()] == keys
    assert ack is not None and await ack is True
    assert sum(chunks, []) == keys
    if len(chunks) > 1:  # SQLite: small chunks while acks wait
        assert max(len(chunk) for chunk in chunks) <= 16


async def test_a_set_based_batch_that_fails_keeps_only_the_chunks_committed_for_an_ack(
    store: SqlCaseStore,
) -> None:
    calls = 0

    async def work(
        tx: CaseTransaction, chunk: Sequence[str]
    ) -> tuple[list[str], list[OutboundMessage]]:
        nonlocal calls
        calls += 1
        if "broken" in chunk:
            raise RuntimeError("this chunk cannot be filed")
        for key in chunk:
            await tx.new_case(a_case(key))
        return list(chunk), [a_message(key) for key in chunk]

    with pytest.raises(RuntimeError):
        await store.in_chunks(["kept?", "also?", "broken"], work)

    assert calls == 1  # one chunk: nothing committed before the failure
    assert await store.list_cases() == []
    assert await store.pending_count() == 0
