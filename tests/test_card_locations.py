"""Card locations, on SQLite and PostgreSQL: where each case's card was posted, per platform."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.core.clock import ManualClock
from bot.core.models import Case
from storage.database import create_engine
from storage.repository import SqlCaseStore
from tests.test_storage_contract import T0, a_case


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def store(database_url: str, clock: ManualClock) -> AsyncIterator[SqlCaseStore]:
    case_store = SqlCaseStore(create_engine(database_url), clock=clock)
    yield case_store
    await case_store.close()


async def new_case(store: SqlCaseStore, key: str) -> int:
    async with store.transaction() as tx:
        case = await tx.new_case(a_case(key))
    assert case.id is not None
    return case.id


def ids(case: Case | None) -> int | None:
    return None if case is None else case.id


async def test_a_card_is_found_by_its_message_on_its_platform_only(store: SqlCaseStore) -> None:
    case_id = await new_case(store, "k1")
    await store.record_card(case_id, "slack", "C0TRIAGE", "1700000000.000100")
    await store.record_card(case_id, "teams", "19:triage@thread.tacv2", "1:activity")

    assert ids(await store.case_for_card("slack", "C0TRIAGE", "1700000000.000100")) == case_id
    assert (
        ids(await store.case_for_card("teams", "19:triage@thread.tacv2", "1:activity")) == case_id
    )
    # the same ids on another platform, or in another conversation, are another message
    assert await store.case_for_card("teams", "C0TRIAGE", "1700000000.000100") is None
    assert await store.case_for_card("slack", "C0OTHER", "1700000000.000100") is None
    assert [card.platform for card in await store.cards_of(case_id)] == ["slack", "teams"]


async def test_recording_a_case_s_card_again_replaces_it(
    store: SqlCaseStore, clock: ManualClock
) -> None:
    case_id = await new_case(store, "k1")
    await store.record_card(case_id, "slack", "C0TRIAGE", "1700000000.000100")
    clock.advance(timedelta(minutes=5))
    await store.record_card(case_id, "slack", "C0TRIAGE", "1700000000.000900")

    card = await store.card_of(case_id, "slack")
    assert card is not None
    assert (card.conversation_id, card.message_id, card.posted_at) == (
        "C0TRIAGE",
        "1700000000.000900",
        T0 + timedelta(minutes=5),
    )
    assert await store.case_for_card("slack", "C0TRIAGE", "1700000000.000100") is None
    assert len(await store.cards_of(case_id)) == 1


async def test_saving_a_case_leaves_its_cards_alone(store: SqlCaseStore) -> None:
    case_id = await new_case(store, "k1")
    await store.record_card(case_id, "slack", "C0TRIAGE", "1700000000.000100")
    async with store.transaction() as tx:
        case = await tx.lock_case(case_id)
        assert case is not None
        await tx.save_case(case.model_copy(update={"owner": "bob"}))

    assert ids(await store.case_for_card("slack", "C0TRIAGE", "1700000000.000100")) == case_id


async def test_cases_without_a_card_have_none(store: SqlCaseStore) -> None:
    first, second = await new_case(store, "k1"), await new_case(store, "k2")
    await store.record_card(first, "slack", "C0TRIAGE", "1700000000.000100")

    assert await store.card_of(second, "slack") is None
    assert await store.card_of(first, "teams") is None
    assert await store.cards_of(second) == []
