"""Publishing a weekly digest in Teams: the digest's Adaptive Card in its `teams_channel`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.models import OutboundMessage
from bot.routing import Digest
from digests.model import WeeklyDigest
from digests.render_card import render_card
from handlers.teams.cards import card_message
from handlers.teams.notices import post_message


def publish_to_teams(
    digest: Digest, weekly: WeeklyDigest, *, key: str, note: str | None, now: datetime
) -> Sequence[OutboundMessage]:
    """A `digests.job.Publisher`: one card, posted once per digest run (dedupe key)."""
    if not digest.teams_channel:
        return []
    activity = card_message(render_card(weekly, note=note), weekly.headline)
    return [post_message(key, digest.teams_channel, activity, now, lane=f"{key}:teams")]
