"""The reporter's confirmation as an outbox message: ephemeral where they flagged, else a DM."""

from __future__ import annotations

from datetime import datetime

from bot.core.filed import FiledReport
from bot.core.models import OutboundMessage
from handlers.slack.blocks import confirmation_blocks, confirmation_mrkdwn


def confirmation(
    filed: FiledReport, user: str, channel: str | None, now: datetime
) -> OutboundMessage:
    content: dict[str, object] = {
        "text": confirmation_mrkdwn(filed),
        "blocks": confirmation_blocks(filed),
    }
    # Ephemeral messages need a channel the user is in; a DM channel id cannot take one.
    if channel and not channel.startswith("D"):
        method, payload = "chat.postEphemeral", {**content, "channel": channel, "user": user}
    else:
        method, payload = "chat.postMessage", {**content, "channel": user}
    return OutboundMessage(
        dedupe_key=f"confirm:{filed.report.id}:{filed.report.updated_at.isoformat()}",
        platform="slack",
        method=method,
        payload=payload,
        next_attempt_at=now,
    )
