"""Rows into the core's models and back: the one place storage/ shapes them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from bot.core.models import Case, OutboundMessage, Report, TimelineEntry


def require_id(value: int | None, what: str) -> int:
    if value is None:
        raise ValueError(f"the {what} has no id: it was never stored")
    return value


def case_values(case: Case) -> dict[str, Any]:
    return case.model_dump(exclude={"id"})


def report_values(report: Report) -> dict[str, Any]:
    return report.model_dump(exclude={"id"})


def to_case(row: Row[Any]) -> Case:
    return Case.model_validate(row, from_attributes=True)


def to_report(row: Row[Any]) -> Report:
    return Report.model_validate(row, from_attributes=True)


def to_timeline_entry(row: Row[Any]) -> TimelineEntry:
    return TimelineEntry.model_validate(row, from_attributes=True)


def to_outbound(row: Row[Any]) -> OutboundMessage:
    return OutboundMessage.model_validate(row, from_attributes=True)
