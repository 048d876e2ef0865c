"""Adaptive Cards for Teams: the report form, the case card with its Action.Execute verbs, the
reporter's answer card, and the invoke answers that carry them. Pure dicts, no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.intake import FiledReport
from bot.intake import confirmation_text as report_confirmation
from bot.lifecycle import STATUS_WORDS
from bot.models import Case, CaseStatus, Report, Role, Severity
from bot.routing import Routing
from bot.triage import RESOLUTION_REASONS

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

SEVERITY_ICONS = {"low": "⚪", "medium": "🟡", "high": "🟠", "critical": "🔴"}
MAX_COMMENTS = 5
TEXT_LIMIT = 2000

Element = dict[str, Any]


def _text(text: str, **style: Any) -> Element:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _card(body: list[Element], actions: list[Element] | None = None) -> dict[str, Any]:
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
    tags = [f"<at>{_escape(name)}</at>" for _, name in mentions]
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
    values = values or {}
    errors = errors or {}
    body: list[Element] = [_text("Report this AI output", size="Medium", weight="Bolder")]
    if excerpt:
        quoted = excerpt if len(excerpt) <= 500 else excerpt[:499] + "…"
        body.append(
            {
                "type": "Container",
                "style": "emphasis",
                "items": [_text(quoted, isSubtle=True, maxLines=6)],
            }
        )
    general = errors.get("")
    if general:
        body.append(_text(general, color="Attention", weight="Bolder"))

    def field(input_id: str, element: Element) -> None:
        if input_id in errors:
            body.append(_text(errors[input_id], color="Attention", spacing="Small"))
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
            "choices": [{"title": c.label, "value": c.id} for c in routing.categories],
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
    return _card(body, [{"type": "Action.Submit", "title": "Report", "style": "positive"}])


def confirmation_text(filed: FiledReport) -> str:
    case = filed.case
    text = report_confirmation(filed, bold="**")
    if case.trace_id:
        text += f" Trace `{case.trace_id}`."
    return text


# --- the case card -----------------------------------------------------------------------------


def help_text(routing: Routing) -> str:
    """What the bot answers in its 1:1 chat: what it does, and how to use it in Teams."""
    systems = ", ".join(system.name for system in routing.systems)
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


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def _person(routing: Routing, person_id: str | None) -> str:
    person = routing.person(person_id) if person_id else None
    return person.display if person else (person_id or "nobody")


def case_summary(case: Case, routing: Routing) -> str:
    category = routing.category(case.category_id)
    label = category.label if category else case.category_id
    return f"Case #{case.id} · {case.severity.value} · {label} · {STATUS_WORDS[case.status]}"


def case_card(case: Case, reports: list[Report], routing: Routing) -> dict[str, Any]:
    """The case as the triage channel (and anyone who acts on it) sees it."""
    system = routing.system(case.system_id)
    category = routing.category(case.category_id)
    body: list[Element] = [
        _text(
            f"{SEVERITY_ICONS.get(case.severity.value, '')} Case #{case.id}: "
            f"{category.label if category else case.category_id}",
            size="Medium",
            weight="Bolder",
            style="heading",
        ),
        {
            "type": "FactSet",
            "facts": [
                {"title": "System", "value": system.name if system else case.system_id},
                {"title": "Status", "value": STATUS_WORDS[case.status]},
                {"title": "Severity", "value": case.severity.value},
                {
                    "title": "Owner",
                    "value": _person(routing, case.owner)
                    + (f" ({case.owner_role.value})" if case.owner_role else ""),
                },
                {"title": "Reporters", "value": str(case.report_count)},
                {"title": "Acknowledge by", "value": _when(case.acknowledge_due_at)},
                {"title": "Resolve by", "value": _when(case.resolve_due_at)},
            ],
        },
    ]
    if case.output_excerpt:
        body.append(
            {
                "type": "Container",
                "style": "emphasis",
                "items": [_text(case.output_excerpt[:1500], maxLines=8)],
            }
        )
    if case.output_permalink:
        body.append(_text(f"[Open the flagged message]({case.output_permalink})", spacing="Small"))
    trace = [f"{name} {value}" for name, value in case.trace_fields()]
    if trace:
        body.append(_text(" · ".join(trace), isSubtle=True, size="Small"))
    for report in [r for r in reports if r.comment][:MAX_COMMENTS]:
        text = f"A reporter: {report.comment}"
        if report.expected:
            text += f"\n\nExpected: {report.expected}"
        body.append(_text(text, size="Small", separator=True))
    actions = [] if case.status.is_closed else _case_actions(case, routing)
    return _card(body, actions)


def _execute(title: str, verb: str, case: Case, **style: Any) -> Element:
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": {"case": case.id},
        **style,
    }


def _show(title: str, body: list[Element], submit: Element) -> Element:
    return {
        "type": "Action.ShowCard",
        "title": title,
        "card": {"type": "AdaptiveCard", "body": body, "actions": [submit]},
    }


def _case_actions(case: Case, routing: Routing) -> list[Element]:
    actions: list[Element] = []
    if case.status is CaseStatus.new:
        actions.append(_execute("Acknowledge", ACKNOWLEDGE, case, style="positive"))
    actions.append(
        _show(
            "Resolve…",
            [
                {
                    "type": "Input.ChoiceSet",
                    "id": RESOLVE_REASON,
                    "label": "What fixed it?",
                    "style": "compact",
                    "isRequired": True,
                    "errorMessage": "Choose what fixed it.",
                    "choices": [{"title": t, "value": v} for v, t in RESOLUTION_REASONS.items()],
                },
                {
                    "type": "Input.Text",
                    "id": RESOLVE_NOTE,
                    "label": "Note for the reporters",
                    "isMultiline": True,
                    "maxLength": TEXT_LIMIT,
                },
            ],
            _execute("Resolve", RESOLVE, case, style="positive"),
        )
    )
    actions.append(
        _show(
            "Reassign…",
            [
                {
                    "type": "Input.ChoiceSet",
                    "id": REASSIGN_PERSON,
                    "label": "To a person",
                    "style": "compact",
                    "choices": [
                        {"title": p.display, "value": p.id} for p in routing.people.values()
                    ],
                },
                {
                    "type": "Input.ChoiceSet",
                    "id": REASSIGN_ROLE,
                    "label": "…or to this system's owner for a role",
                    "style": "compact",
                    "choices": [{"title": r.value, "value": r.value} for r in Role],
                },
            ],
            _execute("Reassign", REASSIGN, case),
        )
    )
    if case.status is not CaseStatus.needs_info:
        actions.append(
            _show(
                "Needs info…",
                [
                    {
                        "type": "Input.Text",
                        "id": QUESTION,
                        "label": "What do you need to know? (sent to the reporters)",
                        "isMultiline": True,
                        "isRequired": True,
                        "errorMessage": "Write your question.",
                        "maxLength": TEXT_LIMIT,
                    }
                ],
                _execute("Ask", NEEDS_INFO, case),
            )
        )
    actions.append(
        _show(
            "Won't fix…",
            [
                {
                    "type": "Input.Text",
                    "id": WONT_FIX_REASON,
                    "label": "Why not?",
                    "isMultiline": True,
                    "isRequired": True,
                    "errorMessage": "Say why it won't be fixed.",
                    "maxLength": TEXT_LIMIT,
                }
            ],
            _execute("Close case", WONT_FIX, case, style="destructive"),
        )
    )
    actions.append(
        _show(
            "Duplicate of…",
            [
                {
                    "type": "Input.Text",
                    "id": ORIGINAL,
                    "label": "Duplicate of case number",
                    "placeholder": "42",
                    "isRequired": True,
                    "errorMessage": "Give a case number, like 42.",
                }
            ],
            _execute("Merge", DUPLICATE, case),
        )
    )
    return actions


def answer_card(case: Case, text: str) -> dict[str, Any]:
    """What a reporter gets when the owner needs more information: the question and a box."""
    return _card(
        [
            _text(text),
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
        [_execute("Send answer", ANSWER, case, style="positive")],
    )


def answered_card(case: Case, text: str) -> dict[str, Any]:
    """The answer card after the reporter answered: no more box."""
    return _card(
        [_text(text, isSubtle=True), _text(f"✅ Your answer was added to case #{case.id}.")]
    )


def _escape(text: str) -> str:
    return text.replace("<", "&lt;").replace(">", "&gt;")
