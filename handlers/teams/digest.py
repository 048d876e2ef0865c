"""Publishing a weekly digest in Teams: the digest's Adaptive Card in its `teams_channel`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.core.models import OutboundMessage
from bot.core.routing_rules import Digest
from digests.model import WeeklyDigest
from digests.render_card import render_card
from handlers.teams.card_budget import ACTIVITY_BUDGET, cut, fit, wire_size
from handlers.teams.cards import adaptive_card, card_message, text_block
from handlers.teams.notices import post_message

# Names (from routing.yaml) are shortened further until the card fits Teams' size limit.
NAME_LENGTHS = (80, 40, 16)
SUMMARY_CHARS = 200
TOO_BIG = "The full digest does not fit in a Teams card: run `loopkeeper digest` to read it."


def publish_to_teams(
    digest: Digest,
    weekly: WeeklyDigest,
    *,
    key: str,
    note: str | None,
    now: datetime,
    chart_url: str | None = None,
) -> Sequence[OutboundMessage]:
    """A `digests.publisher.Publisher`: one card, posted once per digest run (dedupe key), its
    chart an Image loaded from `chart_url` (the bot's own GET /charts/…)."""
    if not digest.teams_channel:
        return []
    activity = digest_activity(weekly, note, chart_url=chart_url)
    return [post_message(key, digest.teams_channel, activity, now, lane=f"{key}:teams")]


def digest_activity(
    weekly: WeeklyDigest, note: str | None, *, chart_url: str | None = None
) -> dict[str, Any]:
    """The digest card as a message, within Teams' size limit whatever the names."""
    summary = cut(weekly.headline, SUMMARY_CHARS)
    for length in NAME_LENGTHS:
        card = render_card(weekly, note=note, name_chars=length, chart_url=chart_url)
        activity = card_message(card, summary)
        if wire_size(activity) <= ACTIVITY_BUDGET:
            return activity
    lines = [weekly.headline, note or "", TOO_BIG]
    budget = ACTIVITY_BUDGET // 2 // len(lines)
    card = adaptive_card([text_block(fit(line, budget)) for line in lines if line])
    return card_message(card, summary)
