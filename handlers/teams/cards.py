"""Adaptive Cards for Teams: the building blocks, the report form, the reporter's answer card,
the markdown messages, and the invoke answers that carry them (the case card is in
handlers/teams/case_card.py). Pure dicts, no I/O.

Every text from outside (a person's, an AI's, routing.yaml's) goes through
`bot.core.card_markdown.inert` before it reaches a TextBlock or a markdown message, and is
shortened to a byte budget (handlers/teams/card_budget.py) first."""

from __future__ import annotations

from html import escape
from typing import Any

from bot.core.card_markdown import inert
from bot.core.filed import FiledReport
from bot.core.filed import confirmation_text as report_confirmation
from bot.core.models import Case, Severity
from bot.core.routing_rules import Routing
from handlers.teams.card_budget import cut, fit

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"

# Action.Execute verbs on the case card (and the reporter's answer card).
ACKNOWLEDGE = "acknowledge"
RESOLVE = "resolve"
REASSIGN = "reassign"
NEEDS_INFO = "needs_info"
WONT_FIX = "wont_fix"
DUPLICATE = "duplicate"
ANSWER = "answer"
REFRESH = "refresh"
VERBS = (ACKNOWLEDGE, RESOLVE, REASSIGN, NEEDS_INFO, WONT_FIX, DUPLICATE, ANSWER, REFRESH)

# Input ids: on the case card (one card per case, so ids need only be unique per verb).
RESOLVE_REASON = "resolve_reason"
RESOLVE_NOTE = "resolve_note"
REASSIGN_PERSON = "reassign_person"
REASSIGN_ROLE = "reassign_role"
QUESTION = "question"
WONT_FIX_REASON = "wont_fix_reason"
ORIGINAL = "original"
ANSWER_TEXT = "answer_text"

# The report form (message extension task module).
FORM_CATEGORY = "category"
FORM_SEVERITY = "severity"
FORM_WRONG = "wrong"
FORM_EXPECTED = "expected"
SEVERITY_DEFAULT = "category_default"

TEXT_LIMIT = 2000
EXCERPT_CHARS = 500
"""The flagged output quoted on the report form."""
FORM_TEXT_BYTES = 5_000
"""Each text typed into the form, when the form comes back with errors."""
NAME_CHARS = 80

Element = dict[str, Any]


def text_block(text: str, **style: Any) -> Element:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def adaptive_card(body: list[Element], actions: list[Element] | None = None) -> dict[str, Any]:
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return card


def attachment(card: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": CARD_TYPE, "content": card}


def card_message(card: dict[str, Any], summary: str) -> dict[str, Any]:
    """A message activity carrying one Adaptive Card (`summary` shows in notifications)."""
    return {"type": "message", "summary": summary, "attachments": [attachment(card)]}


def text_message(text: str, mentions: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """A markdown message; each (user id, name) in `mentions` is @mentioned before the text."""
    activity: dict[str, Any] = {"type": "message", "textFormat": "markdown"}
    if not mentions:
        activity["text"] = text
        return activity
    # Inside <at> the name is HTML text: escaped as such, so it cannot close the tag.
    tags = [f"<at>{escape(cut(name, NAME_CHARS), quote=False)}</at>" for _, name in mentions]
    activity["text"] = " ".join(tags) + " " + text
    activity["entities"] = [
        {"type": "mention", "text": tag, "mentioned": {"id": user_id, "name": name}}
        for (user_id, name), tag in zip(mentions, tags, strict=True)
    ]
    return activity


# --- invoke answers ----------------------------------------------------------------------------


def task_continue(card: dict[str, Any], title: str) -> dict[str, Any]:
    """A message extension answer that shows (or keeps showing) a card in the dialog."""
    return {
        "task": {
            "type": "continue",
            "value": {
                "title": title,
                "height": "medium",
                "width": "medium",
                "card": attachment(card),
            },
        }
    }


def task_message(text: str) -> dict[str, Any]:
    """A message extension answer that shows a short message in the dialog, then closes."""
    return {"task": {"type": "message", "value": text}}


def invoke_card(card: dict[str, Any]) -> dict[str, Any]:
    """An `adaptiveCard/action` answer: this card replaces the one the user acted on."""
    return {"statusCode": 200, "type": CARD_TYPE, "value": card}


def invoke_message(text: str) -> dict[str, Any]:
    """An `adaptiveCard/action` answer: a message shown to the user who acted."""
    return {"statusCode": 200, "type": MESSAGE_TYPE, "value": text}


# --- the report form ---------------------------------------------------------------------------


def report_form(
    routing: Routing,
    *,
    excerpt: str | None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The "Report AI output" form; `errors` (by input id) are shown above their inputs."""
    # Input values are plain text (never parsed) but come back from the client: bounded.
    values = {k: fit(v, FORM_TEXT_BYTES, render=str) for k, v in (values or {}).items()}
    errors = {k: inert(v) for k, v in (errors or {}).items()}
    body: list[Element] = [text_block("Report this AI output", size="Medium", weight="Bolder")]
    if excerpt:
        quoted = fit(cut(excerpt, EXCERPT_CHARS), FORM_TEXT_BYTES)
        body.append(
            {
                "type": "Container",
                "style": "emphasis",
                "items": [text_block(quoted, isSubtle=True, maxLines=6)],
            }
        )
    general = errors.get("")
    if general:
        body.append(text_block(general, color="Attention", weight="Bolder"))

    def field(input_id: str, element: Element) -> None:
        if input_id in errors:
            body.append(text_block(errors[input_id], color="Attention", spacing="Small"))
        body.append(element)

    field(
        FORM_CATEGORY,
        {
            "type": "Input.ChoiceSet",
            "id": FORM_CATEGORY,
            "label": "What kind of problem is it?",
            "isRequired": True,
            "errorMessage": "Choose what kind of problem this is.",
            "style": "compact",
            "value": values.get(FORM_CATEGORY, ""),
            "choices": [
                {"title": cut(c.label, NAME_CHARS), "value": c.id} for c in routing.categories
            ],
        },
    )
    field(
        FORM_SEVERITY,
        {
            "type": "Input.ChoiceSet",
            "id": FORM_SEVERITY,
            "label": "How bad is it?",
            "style": "compact",
            "value": values.get(FORM_SEVERITY, SEVERITY_DEFAULT),
            "choices": [{"title": "As the category says", "value": SEVERITY_DEFAULT}]
            + [{"title": s.value, "value": s.value} for s in Severity],
        },
    )
    field(
        FORM_WRONG,
        {
            "type": "Input.Text",
            "id": FORM_WRONG,
            "label": "What was wrong?",
            "isMultiline": True,
            "maxLength": TEXT_LIMIT,
            "value": values.get(FORM_WRONG, ""),
        },
    )
    field(
        FORM_EXPECTED,
        {
            "type": "Input.Text",
            "id": FORM_EXPECTED,
            "label": "What should it have said?",
            "isMultiline": True,
            "maxLength": TEXT_LIMIT,
            "value": values.get(FORM_EXPECTED, ""),
        },
    )
    return adaptive_card(body, [{"type": "Action.Submit", "title": "Report", "style": "positive"}])


def confirmation_text(filed: FiledReport) -> str:
    """The reporter's confirmation, as Teams markdown (names from routing.yaml are bold)."""
    case = filed.case
    text = report_confirmation(filed, bold="**")
    if case.trace_id:
        trace = cut(case.trace_id, 200)
        # A code span shows its content as typed, so it needs no escapes, unless a backtick
        # would end it early.
        text += f" Trace {inert(trace)}." if "`" in trace else f" Trace `{trace}`."
    return text


def help_text(routing: Routing) -> str:
    """What the bot answers in its 1:1 chat: what it does, and how to use it in Teams."""
    systems = ", ".join(inert(cut(system.name, NAME_CHARS)) for system in routing.systems)
    return "\n\n".join(
        [
            "**loopkeeper** routes flags on AI output to the people who own that AI system"
            f" ({systems}).",
            "- **Flag an AI message**: on the message, **…** (More actions) → "
            "**Report AI output**, then say what was wrong and what it should have said.",
            "- **Thumbs-down** in an AI app that forwards its feedback reaches loopkeeper too.",
            "- **Owners** work each case on its card in the system's triage channel; replies in "
            "the card's thread go on the case's timeline.",
            "- **Here** you hear how your reports end, and answer when an owner asks you for "
            "more (on the card, with **Send answer**).",
        ]
    )


def answer_card(case: Case, text: str) -> dict[str, Any]:
    """What a reporter gets when the owner needs more information: the question (`text`, Teams
    markdown made by handlers/teams/notices.py) and a box."""
    return adaptive_card(
        [
            text_block(text),
            {
                "type": "Input.Text",
                "id": ANSWER_TEXT,
                "label": "Your answer",
                "isMultiline": True,
                "isRequired": True,
                "errorMessage": "Write your answer.",
                "maxLength": TEXT_LIMIT,
            },
        ],
        [execute("Send answer", ANSWER, case, style="positive")],
    )


def answered_card(case: Case, answer: str) -> dict[str, Any]:
    """The answer card after the reporter answered (`answer`, as they typed it): no box."""
    return adaptive_card(
        [
            text_block(fit(answer, FORM_TEXT_BYTES), isSubtle=True),
            text_block(f"✅ Your answer was added to case #{case.id}."),
        ]
    )


def execute(title: str, verb: str, case: Case, **style: Any) -> Element:
    """An Action.Execute button for `verb` on `case`."""
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": {"case": case.id},
        **style,
    }
