"""A filed report as the reporter hears of it: what filing returns, and the confirmation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.core.attribution import Attribution
from bot.core.models import Case, OutboundMessage, Report
from bot.core.routing_rules import Category, Person


@dataclass(frozen=True)
class FiledReport:
    case: Case
    report: Report
    category: Category
    attribution: Attribution
    owner: Person | None
    case_created: bool
    report_updated: bool
    reopened: bool


def confirmation_text(filed: FiledReport, bold: str = "*") -> str:
    """What the reporter is told, in the platform's markup for bold (`*` Slack, `**` Teams)."""
    case = filed.case
    owner = filed.owner.display if filed.owner else "nobody yet"
    role = f" ({case.owner_role.value})" if case.owner_role else ""
    if filed.report_updated:
        lead = f"Updated your report on case #{case.id}"
    elif filed.reopened:
        lead = f"Thanks, case #{case.id} was closed and is now reopened"
    elif filed.case_created:
        lead = f"Thanks, your report opened case #{case.id}"
    else:
        others = case.report_count - 1
        people = "person" if others == 1 else "people"
        lead = f"Thanks, you joined case #{case.id} ({others} other {people} flagged this too)"
    return (
        f"{lead}: {bold}{filed.category.label}{bold}, {case.severity.value} severity, "
        f"for {bold}{filed.attribution.system.name}{bold}, routed to {bold}{owner}{bold}{role}."
    )


Confirmation = Callable[[FiledReport], Sequence[OutboundMessage]]
