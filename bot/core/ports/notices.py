"""What a platform says about a case, as outbox messages (intake, triage, escalation)."""

from __future__ import annotations

from typing import Protocol

from bot.core.models import Case, OutboundMessage, Report
from bot.core.surge_record import SurgeRecord


class Notices(Protocol):
    """Builds the outbox messages that announce and update a case on a chat platform.

    `key` makes each notice idempotent: the same key is never sent twice.
    """

    def card(self, case: Case, key: str, *, opening: bool = False) -> list[OutboundMessage]:
        """Refresh the case card; `opening` posts it in the triage channel if it isn't there."""
        ...

    def thread(self, case: Case, text: str, key: str) -> list[OutboundMessage]:
        """One short reply in the case card's thread."""
        ...

    def direct(self, person_id: str, text: str, case: Case, key: str) -> list[OutboundMessage]:
        """A direct message to a person of routing.yaml about the case."""
        ...

    def reporter(
        self, report: Report, text: str, case: Case, key: str, *, ask: bool = False
    ) -> list[OutboundMessage]:
        """A direct message to a reporter; `ask` adds a button to answer the owner's question."""
        ...

    def surge_card(
        self, surge: SurgeRecord, key: str, *, post: bool = False
    ) -> list[OutboundMessage]:
        """Refresh the surge's card (rendered when sent); `post` posts it in the triage channel."""
        ...

    def surge_direct(
        self, person_id: str, text: str, surge: SurgeRecord, key: str
    ) -> list[OutboundMessage]:
        """A direct message to a person of routing.yaml about the surge, linking its card."""
        ...
