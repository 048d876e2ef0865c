"""Block Kit rendering for intake: the report modal, confirmations, `/loopkeeper` answers."""

from __future__ import annotations

import json
from typing import Any

from bot.core.filed import FiledReport, confirmation_text
from bot.core.models import Severity
from bot.core.mrkdwn import escape, from_slack, shorten
from bot.core.ports import ReportWithCase
from bot.core.routing_rules import Routing
from handlers.slack import budget

REPORT_MODAL = "report_ai_output_modal"
SEVERITY_DEFAULT = "default"
METADATA_LIMIT = 3000
EXCERPT_BUDGET = 500
TRACE_BUDGET = 200
_BOLD = "\uffff"
"""Where the core's confirmation wants bold: a noncharacter, never in real text, that survives
escaping and then becomes Slack's `*`."""

SEVERITY_LABELS = {
    Severity.low: "Low",
    Severity.medium: "Medium",
    Severity.high: "High",
    Severity.critical: "Critical",
}
STATUS_LABELS = {
    "new": "New",
    "acknowledged": "Acknowledged",
    "needs_info": "Needs info",
    "resolved": "Resolved",
    "wont_fix": "Won't fix",
    "duplicate": "Duplicate",
}


def _plain(text: str, limit: int = budget.OPTION_TEXT) -> dict[str, Any]:
    return budget.plain(text, limit)


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": _plain(label, budget.OPTION_TEXT), "value": value}


def _category_menu(options: list[dict[str, Any]]) -> dict[str, Any]:
    """Options for the category select: Slack takes 100 per menu, so a longer list is split
    into groups of 100 rather than losing the categories past the hundredth."""
    if len(options) <= budget.OPTIONS:
        return {"options": options}
    size = budget.OPTIONS
    groups = [
        {
            "label": _plain(f"Categories {i + 1}–{min(i + size, len(options))}"),
            "options": options[i : i + size],
        }
        for i in range(0, len(options), size)
    ]
    return {"option_groups": groups[: budget.OPTION_GROUPS]}


def report_modal(
    routing: Routing,
    metadata: dict[str, Any],
    *,
    free_form: bool,
    initial_text: str | None = None,
    excerpt: str | None = None,
) -> dict[str, Any]:
    """The modal behind the shortcut and `/loopkeeper report`."""
    categories = [_option(c.label, c.id) for c in routing.categories]
    severities = [_option("Category default", SEVERITY_DEFAULT)] + [
        _option(label, s.value) for s, label in SEVERITY_LABELS.items()
    ]
    blocks: list[dict[str, Any]] = []
    if excerpt:
        # The message text comes entity-escaped from Slack: unescape so it is escaped once.
        shown = escape(from_slack(excerpt), EXCERPT_BUDGET)
        quoted = "\n".join(f">{line}" for line in shown.splitlines())
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": shorten(quoted, budget.SECTION_TEXT)},
            }
        )
    blocks += [
        {
            "type": "input",
            "block_id": "category",
            "label": _plain("What kind of problem?"),
            "element": {
                "type": "static_select",
                "action_id": "value",
                "placeholder": _plain("Choose a category"),
                **_category_menu(categories),
            },
        },
        {
            "type": "input",
            "block_id": "severity",
            "optional": True,
            "label": _plain("How bad is it?"),
            "element": {
                "type": "static_select",
                "action_id": "value",
                "initial_option": severities[0],
                "options": severities,
            },
        },
        _text_input(
            "wrong",
            "Describe the edge case" if free_form else "What was wrong?",
            optional=not free_form,
            initial=initial_text,
        ),
        _text_input("expected", "What should it have said?", optional=True),
    ]
    return {
        "type": "modal",
        "callback_id": REPORT_MODAL,
        "title": _plain(
            "Report an edge case" if free_form else "Report AI output", budget.MODAL_TITLE
        ),
        "submit": _plain("Report", budget.MODAL_TITLE),
        "close": _plain("Cancel", budget.MODAL_TITLE),
        "private_metadata": _fit_metadata(metadata),
        "blocks": blocks,
    }


def _text_input(
    block_id: str, label: str, *, optional: bool, initial: str | None = None
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": True,
        "max_length": budget.INITIAL_VALUE,
    }
    if initial:
        element["initial_value"] = initial[: budget.INITIAL_VALUE]
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": _plain(label, budget.LABEL_TEXT),
        "element": element,
    }


def _fit_metadata(metadata: dict[str, Any]) -> str:
    """Ids only (channel, ts): Slack caps private_metadata at METADATA_LIMIT characters, so the
    flagged text is read back on submission instead of carried here."""
    return json.dumps(metadata, separators=(",", ":"))


def confirmation_mrkdwn(filed: FiledReport) -> str:
    """The core's confirmation sentence with its names escaped and its bold made Slack's."""
    words = confirmation_text(filed, bold=_BOLD)
    return shorten(escape(words).replace(_BOLD, "*"), budget.SECTION_TEXT)


def confirmation_blocks(filed: FiledReport) -> list[dict[str, Any]]:
    text = confirmation_mrkdwn(filed)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    details = []
    if filed.case.trace_id:
        details.append(f"trace `{escape(filed.case.trace_id, TRACE_BUDGET)}`")
    if filed.case.acknowledge_due_at:
        due = int(filed.case.acknowledge_due_at.timestamp())
        details.append(f"acknowledge by <!date^{due}^{{date_short_pretty}} {{time}}|{due}>")
    if details:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(details)}]}
        )
    return blocks


def mine_text(items: list[ReportWithCase], routing: Routing) -> str:
    if not items:
        return (
            "You haven't reported anything yet. React to an AI message with a mapped emoji, "
            "use the *Report AI output* shortcut, or `/loopkeeper report`."
        )
    lines = ["*Your reports*"]
    for item in items:
        case, report = item.case, item.report
        category = routing.category(report.category_id)
        system = routing.system(case.system_id)
        lines.append(
            f"• Case #{case.id} · {STATUS_LABELS.get(case.status.value, case.status.value)} · "
            f"{escape(category.label if category else report.category_id, budget.OPTION_TEXT)} · "
            f"{escape(system.name if system else case.system_id, budget.OPTION_TEXT)} · "
            f"reported <!date^{int(report.created_at.timestamp())}^{{date_short}}|"
            f"{report.created_at:%Y-%m-%d}>"
        )
    return shorten("\n".join(lines), budget.MESSAGE_TEXT)


def help_text(routing: Routing) -> str:
    labels = {c.id: c.label for c in routing.categories}
    reactions = ", ".join(
        f":{escape(emoji)}: {escape(labels.get(cat, cat), budget.OPTION_TEXT)}"
        for emoji, cat in routing.reactions.items()
    )
    lines = [
        "*loopkeeper* routes flags on AI output to the people who own that AI system.",
        "• `/loopkeeper report [what happened]` — report an edge case that isn't one message",
        "• `/loopkeeper mine` — your reports and where their cases stand",
        "• `/loopkeeper cases` — the open cases routed to you, oldest first",
        "• `/loopkeeper help` — this help",
        "• Message menu → *Report AI output* — flag one AI message with details",
    ]
    if reactions:
        lines.append(f"• React to an AI message to flag it: {reactions}")
    return shorten("\n".join(lines), budget.MESSAGE_TEXT)
