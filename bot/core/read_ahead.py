"""What a claimed outbox batch's case notices need, read once for the batch.

Each case notice is sent on its own, and each used to read its case, where its card is and (for
a card) its reports: three statements per card. The dispatcher hands the claimed batch to its
sender first (`ReadsAhead` in bot/core/outbox.py); the sender reads every case of the batch in
one statement per table, right after the claim, when the sends would otherwise read one by one,
and each send takes what was read for its message.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Collection, Sequence
from typing import Protocol

from bot.core.models import OutboundMessage
from bot.core.ports import CaseForCards

KEPT = 10_000
"""Messages whose reads are kept for their send: a batch's, and those given back unsent."""


class Unread(enum.Enum):
    """Nothing was read ahead for a message (sent outside a claimed batch, or the read
    failed): its send reads for itself."""

    UNREAD = enum.auto()


UNREAD = Unread.UNREAD


class ReadsCasesForCards(Protocol):
    async def cases_for_cards(
        self, case_ids: Collection[int], platform: str, *, reports_of: Collection[int] = ()
    ) -> dict[int, CaseForCards]: ...


class BatchReads:
    """The cases of the case notices of claimed batches, by outbox message id."""

    def __init__(
        self, store: ReadsCasesForCards, platform: str, notices: Collection[str], card: str
    ) -> None:
        self._store = store
        self._platform = platform
        self._notices = frozenset(notices)
        self._card = card  # the notice that renders the card, and so needs the reports
        self._read: OrderedDict[int, CaseForCards | None] = OrderedDict()

    async def claimed(self, messages: Sequence[OutboundMessage]) -> None:
        """Read the cases of a claimed batch's notices (with their cards on this platform,
        and with their reports where the card is rendered)."""
        wanted: dict[int, int] = {}  # message id -> case id
        for message in messages:
            case_id = message.payload.get("case_id")
            if message.id is None or message.method not in self._notices or not case_id:
                continue
            try:
                wanted[message.id] = int(case_id)  # type: ignore[call-overload]
            except (TypeError, ValueError):
                continue  # its send says what is wrong with it
        if not wanted:
            return
        cards = {wanted[m.id] for m in messages if m.id in wanted and m.method == self._card}
        found = await self._store.cases_for_cards(wanted.values(), self._platform, reports_of=cards)
        for message_id, case_id in wanted.items():
            self._read[message_id] = found.get(case_id)
            self._read.move_to_end(message_id)
        while len(self._read) > KEPT:
            self._read.popitem(last=False)

    def take(self, message: OutboundMessage) -> CaseForCards | None | Unread:
        """What was read for this message (None: its case no longer exists), once."""
        if message.id is None:
            return UNREAD
        return self._read.pop(message.id, UNREAD)
