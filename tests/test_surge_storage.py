"""The surge store on SQLite and PostgreSQL: one active surge per system however many
replicas race to open it, and the links from cases to their surge."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.core.surge_record import SurgeRecord
from storage.repository import SqlCaseStore
from tests.test_storage_contract import T0, a_case


def a_surge(system_id: str = "support-assistant") -> SurgeRecord:
    return SurgeRecord(
        system_id=system_id, first_seen_at=T0, opened_at=T0, last_case_at=T0, case_count=21
    )


async def test_replicas_racing_to_open_a_systems_surge_open_one(store: SqlCaseStore) -> None:
    async def open_one() -> int | None:
        async with store.transaction() as tx:
            opened = await tx.open_surge(a_surge())
            if opened is None:  # lost the race: join the winner's
                winner = await tx.lock_active_surge("support-assistant")
                assert winner is not None
                return None
            await asyncio.sleep(0.01)  # hold the row while the others pile up
            return opened.id

    opened = await asyncio.gather(*(open_one() for _ in range(5)))

    assert len([o for o in opened if o is not None]) == 1
    async with store.transaction() as tx:
        active = await tx.lock_active_surge("support-assistant")
        assert active is not None and active.id in opened
        assert await tx.lock_active_surge("code-helper") is None


async def test_an_ended_surge_frees_its_system_for_the_next(store: SqlCaseStore) -> None:
    async with store.transaction() as tx:
        first = await tx.open_surge(a_surge())
        assert first is not None
        await tx.save_surge(first.model_copy(update={"ended_at": T0 + timedelta(minutes=30)}))
        second = await tx.open_surge(a_surge())
        assert second is not None and second.id != first.id
    ended = await store.get_surge(first.stored_id)
    assert ended is not None and not ended.active


async def test_cases_link_to_their_surge_and_folded_ones_find_it(store: SqlCaseStore) -> None:
    async with store.transaction() as tx:
        carded, _ = await tx.lock_or_create_case(a_case("k1"))
        folded, _ = await tx.lock_or_create_case(a_case("k2"))
        surge = await tx.open_surge(a_surge())
        assert surge is not None
        await tx.link_surge_cases(surge.stored_id, [carded.stored_id], folded=False)
        await tx.link_surge_cases(surge.stored_id, [folded.stored_id], folded=True)
        await tx.link_surge_cases(surge.stored_id, [folded.stored_id], folded=True)  # again
        assert await tx.surge_of_case(folded.stored_id) == surge
        assert await tx.surge_of_case(carded.stored_id) is None
        recent = await tx.recent_cases("support-assistant", T0 - timedelta(minutes=1), 10)
        assert [case_id for case_id, _ in recent] == [carded.id, folded.id]

    assert [c.id for c in await store.surge_cases(surge.stored_id)] == [carded.id, folded.id]
    assert await store.folded_into(folded.stored_id) == surge
    assert await store.folded_into(carded.stored_id) is None
    assert await store.surge_card_of(surge.stored_id, "slack") is None
    await store.record_surge_card(surge.stored_id, "slack", "C0TRIAGE", "1.1")
    await store.record_surge_card(surge.stored_id, "slack", "C0TRIAGE", "1.2")  # replaced
    assert await store.surge_card_of(surge.stored_id, "slack") == ("C0TRIAGE", "1.2")
