"""Publishing a weekly digest in Slack: Block Kit in the digest channel, then its chart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.models import OutboundMessage
from bot.core.routing_rules import Digest
from digests.model import WeeklyDigest
from digests.render_blocks import render_blocks
from handlers.slack.sender import file_message


def publish_to_slack(
    digest: Digest,
    weekly: WeeklyDigest,
    *,
    key: str,
    note: str | None,
    now: datetime,
    chart_url: str | None = None,
) -> Sequence[OutboundMessage]:
    """A `digests.publisher.Publisher`; Slack gets the chart as a file, not `chart_url`."""
    if not digest.slack_channel:
        return []
    lane = f"{key}:slack"  # the chart follows its digest, never overtakes it
    content = render_blocks(weekly, note=note)
    messages = [
        OutboundMessage(
            dedupe_key=f"slack:{key}",
            platform="slack",
            method="chat.postMessage",
            payload={
                **content,
                "channel": digest.slack_channel,
                "unfurl_links": False,
                "lane": lane,
            },
            next_attempt_at=now,
        )
    ]
    if not weekly.quiet:
        # matplotlib only when a chart is drawn, not at every start: it is slow to import,
        # and on a fresh machine it logs building its font cache.
        from digests.chart import render_chart

        messages.append(
            file_message(
                f"slack:{key}:chart",
                digest.slack_channel,
                f"loopkeeper-{weekly.week.iso}.png",
                f"Reports per week, last {len(weekly.series)} weeks"
                + (", and the top recurring themes" if weekly.themes else ""),
                render_chart(weekly),
                now,
                lane=lane,
            )
        )
    return messages
