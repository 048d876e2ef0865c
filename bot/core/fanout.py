"""Announcing a case on every connected platform at once."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.models import Case, OutboundMessage, Report
from bot.core.ports import Notices
from bot.core.surge_record import SurgeRecord


class FanOutNotices:
    """A `Notices` that asks each platform's notices and sends all of their messages."""

    def __init__(self, platforms: Sequence[Notices]) -> None:
        self._platforms = list(platforms)

    def card(self, case: Case, key: str, *, opening: bool = False) -> list[OutboundMessage]:
        return [m for p in self._platforms for m in p.card(case, key, opening=opening)]

    def thread(self, case: Case, text: str, key: str) -> list[OutboundMessage]:
        return [m for p in self._platforms for m in p.thread(case, text, key)]

    def direct(self, person_id: str, text: str, case: Case, key: str) -> list[OutboundMessage]:
        return [m for p in self._platforms for m in p.direct(person_id, text, case, key)]

    def reporter(
        self, report: Report, text: str, case: Case, key: str, *, ask: bool = False
    ) -> list[OutboundMessage]:
        return [m for p in self._platforms for m in p.reporter(report, text, case, key, ask=ask)]

    def surge_card(
        self, surge: SurgeRecord, key: str, *, post: bool = False
    ) -> list[OutboundMessage]:
        return [m for p in self._platforms for m in p.surge_card(surge, key, post=post)]

    def surge_direct(
        self, person_id: str, text: str, surge: SurgeRecord, key: str
    ) -> list[OutboundMessage]:
        return [m for p in self._platforms for m in p.surge_direct(person_id, text, surge, key)]
