"""The case card for Teams, built to fit: every text on it is inert, and its reporters'
comments take what room the 28 KB message limit leaves, newest first, with a line counting
the ones that did not fit. Pure dicts, no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from bot.core.card_markdown import inert
from bot.core.case_line import case_line
from bot.core.lifecycle import STATUS_WORDS
from bot.core.models import Case, CaseStatus, Report, Role
from bot.core.routing_rules import Routing
from bot.core.triage import RESOLUTION_REASONS
from handlers.teams.card_budget import ACTIVITY_BUDGET, cut, fit, wire_size
from handlers.teams.cards import (
    ACKNOWLEDGE,
    DUPLICATE,
    NEEDS_INFO,
    ORIGINAL,
    QUESTION,
    REASSIGN,
    REASSIGN_PERSON,
    REASSIGN_ROLE,
    RESOLVE,
    RESOLVE_NOTE,
    RESOLVE_REASON,
    TEXT_LIMIT,
    WONT_FIX,
    WONT_FIX_REASON,
    Element,
    adaptive_card,
    card_message,
    execute,
    text_block,
)

SEVERITY_ICONS = {"low": "⚪", "medium": "🟡", "high": "🟠", "critical": "🔴"}
NAME_CHARS = 80
"""A person's, system's or category's name on the card (routing.yaml has no limit)."""
CHOICE_CHARS = 24
"""A name in the reassign list when the full names would not fit."""
FIELD_CHARS = 200
"""A trace id, prompt version or model."""
EXCERPT_BYTES = 4_000
"""The flagged output's excerpt: 1,500 characters of English, fewer of Japanese or emoji."""
EXCERPT_CHARS = 1_500
COMMENT_CHARS = 1_000
EXPECTED_CHARS = 500
MIN_COMMENT_BYTES = 400
"""Below this, a comment is not shortened to fit: it is counted in the "more" line."""
MORE_RESERVE = 600
"""Bytes kept for the line that counts the comments left off."""
TEAMS_LINK = "https://teams.microsoft.com/l/message"


def thread_link(conversation_id: str, activity_id: str) -> str:
    """A Teams deep link to the card's post, which opens its reply thread."""
    channel = conversation_id.split(";")[0]
    return f"{TEAMS_LINK}/{quote(channel, safe=':@')}/{quote(activity_id, safe='')}"


def case_summary(case: Case, routing: Routing) -> str:
    """The notification line (plain text, shown as given)."""
    return case_line(case, routing, lambda label: cut(label, NAME_CHARS))


def case_card(
    case: Case, reports: list[Report], routing: Routing, *, thread: str | None = None
) -> dict[str, Any]:
    """The case as the triage channel (and anyone who acts on it) sees it; `thread` is a link
    to the card's thread, for the line that counts the comments left off."""
    body = _head(case, routing)
    summary = case_summary(case, routing)
    card = adaptive_card(body)
    # The people to reassign to come from routing.yaml, however many and however named:
    # their names are shortened, and dropped (reassigning by role stays) if still too big.
    for names in (NAME_CHARS, CHOICE_CHARS, 0):
        if case.status.is_closed:
            break
        card["actions"] = _case_actions(case, routing, names)
        if wire_size(card_message(card, summary)) <= ACTIVITY_BUDGET // 2:
            break
    room = ACTIVITY_BUDGET - MORE_RESERVE - wire_size(card_message(card, summary))
    commented = [r for r in reversed(reports) if r.comment]  # newest first
    shown = 0
    for report in commented:
        element = _comment(report, room)
        if element is None:
            break
        body.append(element)
        room -= wire_size(element) + 2  # and the ", " that joins it to the list
        shown += 1
    left = len(commented) - shown
    if left:
        more = f"…and {left} more {'comment' if left == 1 else 'comments'}"
        if thread:
            more += f" — [open the case thread]({thread})"
        body.append(text_block(more, size="Small", isSubtle=True, separator=shown == 0))
    return card


def _head(case: Case, routing: Routing) -> list[Element]:
    """Everything on the card but the comments."""
    system = routing.system(case.system_id)
    category = routing.category(case.category_id)
    label = category.label if category else case.category_id
    body: list[Element] = [
        text_block(
            f"{SEVERITY_ICONS.get(case.severity.value, '')} Case #{case.id}: {_name(label)}",
            size="Medium",
            weight="Bolder",
            style="heading",
        ),
        {
            "type": "FactSet",
            "facts": [
                {"title": "System", "value": _name(system.name if system else case.system_id)},
                {"title": "Status", "value": STATUS_WORDS[case.status]},
                {"title": "Severity", "value": case.severity.value},
                {
                    "title": "Owner",
                    "value": _name(routing.name_of(case.owner))
                    + (f" ({case.owner_role.value})" if case.owner_role else ""),
                },
                {"title": "Reporters", "value": str(case.report_count)},
                {"title": "Acknowledge by", "value": _when(case.acknowledge_due_at)},
                {"title": "Resolve by", "value": _when(case.resolve_due_at)},
            ],
        },
    ]
    if case.output_excerpt:
        excerpt = fit(cut(case.output_excerpt, EXCERPT_CHARS), EXCERPT_BYTES)
        body.append(
            {
                "type": "Container",
                "style": "emphasis",
                "items": [text_block(excerpt, maxLines=8)],
            }
        )
    link = _web_link(case.output_permalink)
    if link:
        # A button, not a markdown link: the address comes from outside, and a button's
        # target is never parsed out of text.
        body.append(
            {
                "type": "ActionSet",
                "spacing": "Small",
                "actions": [
                    {"type": "Action.OpenUrl", "title": "Open the flagged message", "url": link}
                ],
            }
        )
    trace = [f"{name} {inert(cut(value, FIELD_CHARS))}" for name, value in case.trace_fields()]
    if trace:
        body.append(text_block(" · ".join(trace), isSubtle=True, size="Small"))
    return body


def _comment(report: Report, room: int) -> Element | None:
    """A reporter's comment (and what they expected), shortened to its share, and further to
    `room` bytes; None when not even a useful part of it fits."""
    comment = report.comment or ""
    text = "A reporter: " + inert(cut(comment, COMMENT_CHARS))
    if report.expected:
        text += "\n\nExpected: " + inert(cut(report.expected, EXPECTED_CHARS))
    element = text_block(text, size="Small", separator=True)
    if wire_size(element) + 2 <= room:
        return element
    overhead = wire_size(text_block("A reporter: ", size="Small", separator=True)) + 2
    if room - overhead < MIN_COMMENT_BYTES:
        return None
    shortened = fit(cut(comment, COMMENT_CHARS), room - overhead)
    if not shortened:
        return None
    return text_block("A reporter: " + shortened, size="Small", separator=True)


def _web_link(url: str | None) -> str | None:
    """`url` if it is an http(s) address a button may open, else None."""
    if not url or len(url) > 2_000:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(c.isspace() or ord(c) < 32 for c in url):
        return None
    return url


def _name(text: str) -> str:
    return inert(cut(text, NAME_CHARS))


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def _show(title: str, body: list[Element], submit: Element) -> Element:
    return {
        "type": "Action.ShowCard",
        "title": title,
        "card": {"type": "AdaptiveCard", "body": body, "actions": [submit]},
    }


def _case_actions(case: Case, routing: Routing, names: int) -> list[Element]:
    """The verbs the case's status allows; people to reassign to, with names of at most
    `names` characters (none if 0)."""
    actions: list[Element] = []
    if case.status is CaseStatus.new:
        actions.append(execute("Acknowledge", ACKNOWLEDGE, case, style="positive"))
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
            execute("Resolve", RESOLVE, case, style="positive"),
        )
    )
    actions.append(
        _show(
            "Reassign…",
            [
                *(
                    [
                        {
                            "type": "Input.ChoiceSet",
                            "id": REASSIGN_PERSON,
                            "label": "To a person",
                            "style": "compact",
                            # Choice titles are plain text, not markdown: shortened only.
                            "choices": [
                                {"title": cut(p.display, names), "value": p.id}
                                for p in routing.people.values()
                            ],
                        }
                    ]
                    if names
                    else []
                ),
                {
                    "type": "Input.ChoiceSet",
                    "id": REASSIGN_ROLE,
                    "label": "…or to this system's owner for a role",
                    "style": "compact",
                    "choices": [{"title": r.value, "value": r.value} for r in Role],
                },
            ],
            execute("Reassign", REASSIGN, case),
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
                execute("Ask", NEEDS_INFO, case),
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
            execute("Close case", WONT_FIX, case, style="destructive"),
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
            execute("Merge", DUPLICATE, case),
        )
    )
    return actions
