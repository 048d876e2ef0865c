"""A case in one line: `Case #12 · high · Hallucination · open`.

Every platform's card leads with it (Slack's notification text, Teams' summary); each edge
passes `label`, which makes the category's label safe for the surface it lands on.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.core.lifecycle import STATUS_WORDS
from bot.core.models import Case
from bot.core.routing_rules import Routing


def case_line(case: Case, routing: Routing, label: Callable[[str], str]) -> str:
    category = routing.category(case.category_id)
    shown = label(category.label if category else case.category_id)
    return f"Case #{case.id} · {case.severity.value} · {shown} · {STATUS_WORDS[case.status]}"
