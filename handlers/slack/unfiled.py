"""Telling a reporter their flag could not be filed (its inbox item was dead-lettered).

Without this a flag that fails for good vanishes: the reporter saw their emoji land and never
hears more. The notice goes through the outbox like every other message, ephemeral in the
channel where they reacted (else a DM), and says that an operator can file it again.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.core.models import InboxItem, OutboundMessage

# Slack ids are short, upper-case letters and digits. Anything else in a dead item is not
# used to address or to mention: the item may be dead precisely because its ids are garbage.
_SLACK_ID = re.compile(r"[A-Z0-9]{2,32}")


def unfiled_reaction_notice(item: InboxItem, reason: str, at: datetime) -> list[OutboundMessage]:
    """The message telling the reactor their flag was not filed; none when they cannot be
    addressed (no usable user id)."""
    event: Any = item.payload.get("event")
    event = event if isinstance(event, dict) else {}
    found: Any = event.get("item")
    where = found if isinstance(found, dict) else {}
    return _notice(item, reason, at, event.get("user"), where.get("channel"))


def unfiled_report_notice(item: InboxItem, reason: str, at: datetime) -> list[OutboundMessage]:
    """The same for a flag from the report modal or a feedback button (a queued draft)."""
    draft: Any = item.payload.get("draft")
    draft = draft if isinstance(draft, dict) else {}
    reporter: Any = draft.get("reporter")
    reporter = reporter if isinstance(reporter, dict) else {}
    return _notice(item, reason, at, reporter.get("slack_user_id"), draft.get("reply_channel_id"))


def _notice(
    item: InboxItem, reason: str, at: datetime, user_id: object, channel_id: object
) -> list[OutboundMessage]:
    user, channel = _slack_id(user_id), _slack_id(channel_id)
    if user is None:
        return []
    place = f"a message in <#{channel}>" if channel else "a message"
    why = "something in it is not valid" if reason.startswith("invalid") else "filing it failed"
    text = (
        f":warning: Your flag on {place} could not be filed: {why}. "
        "An operator has been told and can file it again; you don't need to do anything."
    )
    content: dict[str, object] = {"text": text}
    if channel and not channel.startswith("D"):  # an ephemeral needs a channel they are in
        method, payload = "chat.postEphemeral", {**content, "channel": channel, "user": user}
    else:
        method, payload = "chat.postMessage", {**content, "channel": user}
    return [
        OutboundMessage(
            # The item's id, not its key: the key is whatever the platform sent.
            dedupe_key=f"slack:unfiled:{item.id}:{at.isoformat()}",
            platform="slack",
            method=method,
            payload=payload,
            next_attempt_at=at,
        )
    ]


def _slack_id(value: object) -> str | None:
    return value if isinstance(value, str) and _SLACK_ID.fullmatch(value) else None
