"""The surge card (Block Kit): one message for many new cases on one system, with a row per
waiting case to acknowledge it from the card (the rest via `/loopkeeper cases`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.case_line import case_line
from bot.core.mrkdwn import escape, shorten
from bot.core.routing_rules import Routing
from bot.core.surge_summary import SurgeSummary
from handlers.slack import budget
from handlers.slack.card import ACK, SEVERITY_ICONS

CASE_ROWS = 20
"""Waiting cases listed with a button; with the header, summary and footer, under 50 blocks."""
SURGE_EVENT = "loopkeeper_surge"
"""Slack message metadata event type on every surge card: how a retry finds one it posted."""


def surge_text(summary: SurgeSummary) -> str:
    """The card's notification text, as mrkdwn."""
    state = "ended" if summary.ended_at else "ongoing"
    return escape(
        f"Surge on {summary.system_name}: {summary.cases} new cases ({state})",
        budget.MESSAGE_TEXT,
    )


def surge_blocks(summary: SurgeSummary, routing: Routing) -> list[dict[str, Any]]:
    state = f"ended {_when(summary.ended_at)}" if summary.ended_at else "still arriving"
    categories = ", ".join(f"{escape(label, 80)} ×{n}" for label, n in summary.categories)
    version = (
        f"{escape(summary.version[0], 200)} ({summary.version[1]} of {summary.cases})"
        if summary.version
        else "not reported"
    )
    statuses = ", ".join(f"{n} {status}" for status, n in summary.statuses)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": budget.plain(f"🌊 Surge: {summary.system_name}", budget.HEADER_TEXT),
        },
        {
            "type": "section",
            "text": _mrkdwn(
                f"*{summary.cases} new cases* since {_when(summary.first_seen_at)}, {state}. "
                "Each case has its own record; this card stands for their cards."
            ),
            "fields": [
                _field(f"*Categories*\n{categories or '—'}"),
                _field(f"*Most common version*\n{version}"),
                _field(f"*Status*\n{statuses or '—'}"),
            ],
        },
    ]
    for case in summary.waiting[:CASE_ROWS]:
        icon = SEVERITY_ICONS.get(case.severity.value, "")
        line = case_line(case, routing, lambda label: escape(label, budget.OPTION_TEXT))
        excerpt = f"\n> {escape(case.output_excerpt, 200)}" if case.output_excerpt else ""
        blocks.append(
            {
                "type": "section",
                "text": _mrkdwn(f"{icon} {line}{excerpt}"),
                "accessory": {
                    "type": "button",
                    "action_id": ACK,
                    "text": budget.plain("Acknowledge", budget.BUTTON_TEXT),
                    "value": str(case.id),
                },
            }
        )
    more = len(summary.waiting) - CASE_ROWS
    listed = f"{more} more waiting. " if more > 0 else ""
    blocks.append(
        {
            "type": "context",
            "elements": [
                _mrkdwn(
                    f"{listed}Yours: `/loopkeeper cases`. All of them: "
                    f"`{escape(summary.list_command, 300)}` on the command line.",
                    budget.CONTEXT_TEXT,
                )
            ],
        }
    )
    return blocks


def _when(moment: datetime | None) -> str:
    """A time each reader sees in their own time zone, UTC where dates cannot be shown."""
    if moment is None:
        return "—"
    epoch = int(moment.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{moment:%Y-%m-%d %H:%M} UTC>"


def _mrkdwn(text: str, limit: int = budget.SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": shorten(text, limit)}


def _field(text: str) -> dict[str, Any]:
    return _mrkdwn(text, budget.FIELD_TEXT)
