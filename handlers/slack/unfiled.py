"""Telling a reporter their reaction could not be filed (its inbox item was dead-lettered).

Without this a flag that fails for good vanishes: the reporter saw their emoji land and never
hears more. The notice goes through the outbox like every other message, ephemeral in the
channel where they reacted (else a DM), and says that an operator can file it again.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.models import InboxItem, OutboundMessage

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
    user, channel = _slack_id(event.get("user")), _slack_id(where.get("channel"))
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
