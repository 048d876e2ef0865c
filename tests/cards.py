"""Cases as the tests look at them: with where their Slack card is.

Where a card was posted is a record of its own (card_locations), not a field of the case;
tests that follow a case's card read it here, next to the case.
"""

from __future__ import annotations

from typing import Protocol

from bot.core.models import Case
from bot.core.ports import CardLocations

SLACK = "slack"


class CaseWithCard(Case):
    slack_card_channel: str | None = None
    slack_card_ts: str | None = None


class _Cases(CardLocations, Protocol):
    async def list_cases(self) -> list[Case]: ...


async def with_slack_card(store: CardLocations, case: Case) -> CaseWithCard:
    card = await store.card_of(case.id, SLACK) if case.id is not None else None
    return CaseWithCard(
        **case.model_dump(),
        slack_card_channel=card.conversation_id if card else None,
        slack_card_ts=card.message_id if card else None,
    )


async def cases_with_slack_cards(store: _Cases) -> list[CaseWithCard]:
    return [await with_slack_card(store, case) for case in await store.list_cases()]
