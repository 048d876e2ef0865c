"""A batch of items in one transaction (CaseStore.each_in_transaction), on every backend."""

from __future__ import annotations

import asyncio

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
