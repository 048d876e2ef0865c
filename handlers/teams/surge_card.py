"""The surge card for Teams (an Adaptive Card): the same summary as Slack's, a row per waiting
case with its Acknowledge button, within the 28 KB message limit. Pure dicts, no I/O."""

from __future__ import annotations

from typing import Any

from bot.core.card_markdown import inert
from bot.core.case_line import case_line
from bot.core.models import Case
from bot.core.routing_rules import Routing
from bot.core.surge_summary import SurgeSummary
from handlers.teams.card_budget import ACTIVITY_BUDGET, cut, wire_size
from handlers.teams.cards import ACKNOWLEDGE, adaptive_card, card_message, execute, text_block

CASE_ROWS = 20
SURGE = "surge"
"""Action data key: the surge card the button is on."""
NAME_CHARS = 80


def surge_summary_line(summary: SurgeSummary) -> str:
    """The notification line (plain text)."""
    state = "ended" if summary.ended_at else "ongoing"
    return f"Surge on {cut(summary.system_name, NAME_CHARS)}: {summary.cases} new cases ({state})"


def surge_card(summary: SurgeSummary, routing: Routing) -> dict[str, Any]:
    state = f"ended {summary.ended_at:%Y-%m-%d %H:%M} UTC" if summary.ended_at else "still arriving"
    categories = ", ".join(f"{cut(label, NAME_CHARS)} ×{n}" for label, n in summary.categories)
    version = (
        f"{cut(summary.version[0], 200)} ({summary.version[1]} of {summary.cases})"
        if summary.version
        else "not reported"
    )
    statuses = ", ".join(f"{n} {status}" for status, n in summary.statuses)
    body: list[dict[str, Any]] = [
        text_block(
            inert(f"🌊 Surge: {cut(summary.system_name, NAME_CHARS)}"),
            size="Large",
            weight="Bolder",
        ),
        text_block(
            f"**{summary.cases} new cases** since {summary.first_seen_at:%Y-%m-%d %H:%M} UTC, "
            f"{state}. Each case has its own record; this card stands for their cards."
        ),
        {
            "type": "FactSet",
            "facts": [
                {"title": "Categories", "value": inert(categories or "—")},
                {"title": "Most common version", "value": inert(version)},
                {"title": "Status", "value": inert(statuses or "—")},
            ],
        },
    ]
    summary_line = surge_summary_line(summary)
    shown = 0
    for case in summary.waiting[:CASE_ROWS]:
        line = case_line(case, routing, lambda label: cut(label, NAME_CHARS))
        row = {"type": "Container", "separator": True, "items": [text_block(inert(line))]}
        candidate = adaptive_card([*body, row, _ack_set(summary, case)])
        if wire_size(card_message(candidate, summary_line)) > ACTIVITY_BUDGET:
            break
        body += [row, _ack_set(summary, case)]
        shown += 1
    more = len(summary.waiting) - shown
    listed = f"{more} more waiting. " if more > 0 else ""
    body.append(
        text_block(
            inert(f"{listed}All of them: {summary.list_command} (command line)"),
            size="Small",
            isSubtle=True,
        )
    )
    return adaptive_card(body)


def _ack_set(summary: SurgeSummary, case: Case) -> dict[str, Any]:
    button = execute(f"Acknowledge #{case.id}", ACKNOWLEDGE, case, style="positive")
    # Pressed on the surge card: the answer must not replace it with the case's card.
    button["data"] = {**button["data"], SURGE: summary.surge.id}
    return {"type": "ActionSet", "actions": [button]}
