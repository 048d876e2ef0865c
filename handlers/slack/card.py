"""The case card (Block Kit) and the triage modals."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.core.case_line import case_line
from bot.core.lifecycle import STATUS_WORDS
from bot.core.models import Case, CaseStatus, Report, Role
from bot.core.mrkdwn import escape, from_slack, link, mention, shorten
from bot.core.routing_rules import Routing
from bot.core.triage import RESOLUTION_REASONS
from handlers.slack import budget

ACK = "case_acknowledge"
RESOLVE = "case_resolve"
REASSIGN = "case_reassign"
NEEDS_INFO = "case_needs_info"
WONT_FIX = "case_wont_fix"
DUPLICATE = "case_duplicate"
ANSWER = "case_answer"
CARD_ACTIONS = (ACK, RESOLVE, REASSIGN, NEEDS_INFO, WONT_FIX, DUPLICATE)
MODAL_SUFFIX = "_modal"

SEVERITY_ICONS = {"low": "⚪", "medium": "🟡", "high": "🟠", "critical": "🔴"}
MAX_COMMENTS = 5
EXCERPT_BUDGET = 1500
COMMENT_BUDGET = 1200
EXPECTED_BUDGET = 600
TRACE_VALUE_BUDGET = 200


def _plain(text: str, limit: int = budget.BUTTON_TEXT) -> dict[str, Any]:
    return budget.plain(text, limit)


def _mrkdwn(text: str, limit: int = budget.SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": shorten(text, limit)}


def _date(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    epoch = int(moment.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{moment:%Y-%m-%d %H:%M} UTC>"


def _person(routing: Routing, person_id: str | None, slack_id: str | None = None) -> str:
    if slack_id:
        return mention(slack_id)
    return escape(routing.name_of(person_id))


def card_text(case: Case, routing: Routing) -> str:
    """The card's one-line summary, as mrkdwn (the message's notification text)."""
    return case_line(case, routing, lambda label: escape(label, budget.OPTION_TEXT))


def card_blocks(
    case: Case, reports: list[Report], routing: Routing, owner_slack_id: str | None
) -> list[dict[str, Any]]:
    system = routing.system(case.system_id)
    category = routing.category(case.category_id)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": _plain(
                f"{SEVERITY_ICONS.get(case.severity.value, '')} Case #{case.id}: "
                f"{category.label if category else case.category_id}",
                budget.HEADER_TEXT,
            ),
        },
        {
            "type": "section",
            "fields": [
                _field(f"*System*\n{escape(system.name if system else case.system_id)}"),
                _field(f"*Status*\n{STATUS_WORDS[case.status]}"),
                _field(f"*Severity*\n{case.severity.value}"),
                _field(
                    f"*Owner*\n{_person(routing, case.owner, owner_slack_id)}"
                    + (f" ({case.owner_role.value})" if case.owner_role else "")
                ),
                _field(f"*Reporters*\n{case.report_count}"),
                _field(
                    f"*SLA*\nack by {_date(case.acknowledge_due_at)}\n"
                    f"resolve by {_date(case.resolve_due_at)}"
                ),
            ],
        },
    ]
    if case.output_excerpt:
        # Slack-sourced excerpts arrive entity-escaped; unescape so they are escaped once.
        excerpt = escape(from_slack(case.output_excerpt), EXCERPT_BUDGET)
        quoted = "\n".join(f">{line}" for line in excerpt.splitlines())
        opener = (
            "\n" + link(case.output_permalink, "Open the flagged message")
            if case.output_permalink
            else ""
        )
        quoted = shorten(quoted, budget.SECTION_TEXT - len(opener))
        blocks.append({"type": "section", "text": _mrkdwn(quoted + opener)})
    elif case.output_permalink:
        blocks.append(
            {"type": "section", "text": _mrkdwn(link(case.output_permalink, "Flagged message"))}
        )
    trace = [f"{name} `{escape(value, TRACE_VALUE_BUDGET)}`" for name, value in case.trace_fields()]
    if trace:
        blocks.append(
            {"type": "context", "elements": [_mrkdwn(" · ".join(trace), budget.CONTEXT_TEXT)]}
        )
    comments = [r for r in reports if r.comment][:MAX_COMMENTS]
    for report in comments:
        who = mention(report.reporter_slack_id, "A reporter")
        text = f"{who}: {escape(report.comment or '', COMMENT_BUDGET)}"
        if report.expected:
            text += f"\n_Expected:_ {escape(report.expected, EXPECTED_BUDGET)}"
        blocks.append({"type": "context", "elements": [_mrkdwn(text, budget.CONTEXT_TEXT)]})
    if not case.status.is_closed:
        blocks.append({"type": "actions", "block_id": "triage", "elements": _buttons(case)})
    return blocks


def _field(text: str) -> dict[str, Any]:
    return _mrkdwn(text, budget.FIELD_TEXT)


def _buttons(case: Case) -> list[dict[str, Any]]:
    value = str(case.id)
    buttons = []
    if case.status is CaseStatus.new:
        buttons.append(
            {
                "type": "button",
                "action_id": ACK,
                "text": _plain("Acknowledge"),
                "style": "primary",
                "value": value,
            }
        )
    buttons += [
        {"type": "button", "action_id": RESOLVE, "text": _plain("Resolve…"), "value": value},
        {"type": "button", "action_id": REASSIGN, "text": _plain("Reassign…"), "value": value},
    ]
    if case.status is not CaseStatus.needs_info:
        buttons.append(
            {
                "type": "button",
                "action_id": NEEDS_INFO,
                "text": _plain("Needs info…"),
                "value": value,
            }
        )
    buttons += [
        {"type": "button", "action_id": WONT_FIX, "text": _plain("Won't fix…"), "value": value},
        {"type": "button", "action_id": DUPLICATE, "text": _plain("Duplicate of…"), "value": value},
    ]
    return buttons


def _text_input(
    block_id: str, label: str, *, optional: bool = False, multiline: bool = True
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": _plain(label, budget.LABEL_TEXT),
        "element": {
            "type": "plain_text_input",
            "action_id": "value",
            "multiline": multiline,
            "max_length": 2000,
        },
    }


def _select(
    block_id: str, label: str, options: list[tuple[str, str]], *, optional: bool = False
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": _plain(label, budget.LABEL_TEXT),
        "element": {
            "type": "static_select",
            "action_id": "value",
            "options": [
                {"text": _plain(text, budget.OPTION_TEXT), "value": value}
                for value, text in options[: budget.OPTIONS]
            ],
        },
    }


def triage_modal(action: str, case: Case, routing: Routing, channel: str | None) -> dict[str, Any]:
    """The modal behind a card button (or the reporter's Answer button)."""
    title, submit, blocks = {
        RESOLVE: (
            "Resolve case",
            "Resolve",
            [
                _select("reason", "What fixed it?", list(RESOLUTION_REASONS.items())),
                _text_input("note", "Note for the reporters", optional=True),
            ],
        ),
        REASSIGN: (
            "Reassign case",
            "Reassign",
            [
                {
                    "type": "input",
                    "block_id": "person",
                    "optional": True,
                    "label": _plain("To a person"),
                    "element": {"type": "users_select", "action_id": "value"},
                },
                _select(
                    "role",
                    "…or to this system's owner for a role",
                    [(r.value, r.value) for r in Role],
                    optional=True,
                ),
            ],
        ),
        NEEDS_INFO: (
            "Ask the reporters",
            "Send",
            [_text_input("question", "What do you need to know?")],
        ),
        WONT_FIX: ("Won't fix", "Close case", [_text_input("reason", "Why not?")]),
        DUPLICATE: (
            "Duplicate",
            "Merge",
            [_text_input("original", "Duplicate of case number", multiline=False)],
        ),
        ANSWER: ("Answer the owner", "Send", [_text_input("answer", "Your answer")]),
    }[action]
    return {
        "type": "modal",
        "callback_id": action + MODAL_SUFFIX,
        "title": _plain(title, budget.MODAL_TITLE),
        "submit": _plain(submit, budget.MODAL_TITLE),
        "close": _plain("Cancel", budget.MODAL_TITLE),
        "private_metadata": json.dumps({"case": case.id, "channel": channel}),
        "blocks": [{"type": "section", "text": _mrkdwn(f"*{card_text(case, routing)}*")}, *blocks],
    }
