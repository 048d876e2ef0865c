"""Where each case's card was posted, on every platform: how a button press on a card, or a
reply in its thread, finds its case, and how an update finds the card."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

from sqlalchemy import select

from bot.core.models import CardLocation, Case, Report
from bot.core.ports import CaseForCards
from storage.merged_writes import ONE_CARD_EACH
from storage.rows import to_case, to_report
from storage.sessions import Sessions
from storage.statements import CARD_LOCATIONS, CASES, REPORTS
from storage.tables import CardLocationRow, CaseRow, ReportRow


class SqlCardLocations:
    def __init__(self, db: Sessions) -> None:
        self._db = db

    async def record_card(
        self, case_id: int, platform: str, conversation_id: str, message_id: str
    ) -> None:
        """Remember where the case's card on `platform` is (replacing a card recorded before)."""
        values = {
            "case_id": case_id,
            "platform": platform,
            "conversation_id": conversation_id,
            "message_id": message_id,
            "posted_at": self._db.clock.now(),
        }
        await self._db.group.write(self._db.sql.record_card, values, merge=ONE_CARD_EACH)

    async def case_for_card(
        self, platform: str, conversation_id: str, message_id: str
    ) -> Case | None:
        """The case whose card is this message."""
        row = await self._db.read_first(
            select(CASES)
            .join(CARD_LOCATIONS, CardLocationRow.case_id == CaseRow.id)
            .where(
                CardLocationRow.platform == platform,
                CardLocationRow.conversation_id == conversation_id,
                CardLocationRow.message_id == message_id,
            )
        )
        return None if row is None else to_case(row)

    async def card_of(self, case_id: int, platform: str) -> CardLocation | None:
        """Where the case's card on `platform` is; None if it was never posted there."""
        row = await self._db.read_first(
            select(CARD_LOCATIONS).where(
                CardLocationRow.case_id == case_id, CardLocationRow.platform == platform
            )
        )
        return None if row is None else CardLocation.model_validate(row, from_attributes=True)

    async def cards_of(self, case_id: int) -> list[CardLocation]:
        """The case's cards, one per platform it was posted on."""
        rows = await self._db.read(
            select(CARD_LOCATIONS)
            .where(CardLocationRow.case_id == case_id)
            .order_by(CardLocationRow.platform)
        )
        return [CardLocation.model_validate(row, from_attributes=True) for row in rows]

    async def cases_for_cards(
        self, case_ids: Collection[int], platform: str, *, reports_of: Collection[int] = ()
    ) -> dict[int, CaseForCards]:
        """Several cases with their cards on `platform` (and some with their reports), in one
        read per table, however many cases."""
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        wanted = sorted(set(reports_of) & set(ids))
        # The three reads at once: on PostgreSQL each is a round trip, and under load each
        # waits its turn on the event loop too; the card waits for all three.
        # (SQLite's reads take turns on its one reader anyway.)
        cases, cards, report_rows = await asyncio.gather(
            self._db.read(select(CASES).where(CaseRow.id.in_(ids))),
            self._db.read(
                select(CARD_LOCATIONS).where(
                    CardLocationRow.case_id.in_(ids), CardLocationRow.platform == platform
                )
            ),
            # Oldest first, as `reports_of` reads them.
            self._db.read(
                select(REPORTS).where(ReportRow.case_id.in_(wanted)).order_by(ReportRow.id)
            )
            if wanted
            else _nothing(),
        )
        reports: dict[int, list[Report]] = {case_id: [] for case_id in wanted}
        for row in report_rows:
            reports[row.case_id].append(to_report(row))
        card_of = {
            row.case_id: CardLocation.model_validate(row, from_attributes=True) for row in cards
        }
        return {
            row.id: CaseForCards(to_case(row), card_of.get(row.id), reports.get(row.id))
            for row in cases
        }


async def _nothing() -> list[Any]:
    return []
