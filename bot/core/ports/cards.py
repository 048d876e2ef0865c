"""Where each case's card was posted, on every platform (the Slack and Teams edges)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from bot.core.models import CardLocation, Case, Report
from bot.core.ports.cases import CaseReads, CaseStore


@dataclass(frozen=True)
class CaseForCards:
    """What delivering a case's notices on one platform reads: the case, where its card is
    there (None: not posted there), and its reports, oldest first (None: not asked for)."""

    case: Case
    card: CardLocation | None
    reports: list[Report] | None


class CardLocations(Protocol):
    """Where each case's card was posted, one per (case, platform)."""

    async def record_card(
        self, case_id: int, platform: str, conversation_id: str, message_id: str
    ) -> None:
        """Remember where the case's card on `platform` is (replacing one recorded before)."""
        ...

    async def case_for_card(
        self, platform: str, conversation_id: str, message_id: str
    ) -> Case | None:
        """The case whose card is this message."""
        ...

    async def card_of(self, case_id: int, platform: str) -> CardLocation | None:
        """Where the case's card on `platform` is; None if it was never posted there."""
        ...

    async def cards_of(self, case_id: int) -> list[CardLocation]:
        """The case's cards, one per platform it was posted on."""
        ...

    async def cases_for_cards(
        self, case_ids: Collection[int], platform: str, *, reports_of: Collection[int] = ()
    ) -> dict[int, CaseForCards]:
        """Several cases, each with its card on `platform` and, for those in `reports_of`, its
        reports: a constant number of reads however many cases. A case that no longer
        exists is left out."""
        ...


class CaseCards(CaseReads, CardLocations, Protocol):
    """Cases and where their cards are: what an edge that posts and updates cards reads."""


class CaseCardStore(CaseStore, CaseCards, Protocol):
    """Cases changed in units of work, and where their cards are: triage from a card."""
