"""Flags from modals and feedback buttons, committed to the inbox before their ack.

Filing a flag may need Slack (the flagged message read back, an owner looked up by e-mail),
which can take longer than Slack waits for the ack. So the listener commits the flag to the
inbox, acks, and the inbox worker files it, as it does reactions; a crash in between loses
nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.core.burst_priorities import Acks
from bot.core.inbox import Inbox
from bot.core.models import InboxItem, ReportDraft
from bot.core.ports import Clock

SLACK_REPORT = "slack.report"

Where = tuple[str, str]
"""A flagged message: (channel, ts)."""


@dataclass(frozen=True)
class QueuedFlag:
    draft: ReportDraft
    read: Where | None
    """The message to read back (from the recent cache, else from Slack) before filing."""

    def payload(self) -> dict[str, Any]:
        return {"draft": self.draft.model_dump(mode="json"), "read": self.read}

    @classmethod
    def of(cls, item: InboxItem) -> QueuedFlag:
        read = item.payload.get("read")
        return cls(
            ReportDraft.model_validate(item.payload["draft"]),
            (str(read[0]), str(read[1])) if read else None,
        )


QueueFlag = Callable[[QueuedFlag], Awaitable[None]]


def flag_queue(inbox: Inbox, clock: Clock, wake: Callable[[], None], acks: Acks) -> QueueFlag:
    async def queue(flag: QueuedFlag) -> None:
        key = flag.draft.dedupe_key
        assert key is not None  # a platform delivery id: Slack's retries queue it once
        with acks.arriving():
            if await inbox.accept(key, SLACK_REPORT, flag.payload(), clock.now()):
                wake()

    return queue
