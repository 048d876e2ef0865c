"""Flagged cases as an eval dataset: the canonical record (`loopkeeper export dataset`).

One record per case, made of what its reports captured: the input the AI answered, the bad
output, the expected answer a reporter gave, and how the case ended. The record is the
`jsonl` format; the other formats (bot/core/dataset_formats.py) are built from it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.models import Case, Report
from bot.core.privacy import redact

SCHEMA_VERSION = 1
"""Bumped when a field of the canonical record changes meaning or goes; adding one does not."""

CLOSING_KINDS = ("resolve", "wont_fix", "duplicate")
"""Timeline kinds that close a case: the last one says how it ended."""

RECORD_FIELDS = (
    "schema_version", "id", "case_number", "system", "category", "severity", "input",
    "output", "expected", "comment", "trace_id", "prompt_version", "model", "status",
    "resolution", "reason", "permalink", "created_at",
)  # fmt: skip


class StatusFilter(enum.StrEnum):
    resolved = "resolved"
    all = "all"


@dataclass(frozen=True)
class DatasetQuery:
    """Which cases to export."""

    system: str | None = None
    category: str | None = None
    status: StatusFilter = StatusFilter.resolved
    since: datetime | None = None
    include_unlabelled: bool = False


@dataclass(frozen=True)
class Closing:
    """How a case was closed, from its last closing timeline entry."""

    reason: str | None
    note: str | None


@dataclass(frozen=True)
class DatasetCase:
    """A case with what its reports captured, as the store reads it."""

    case: Case
    reports: Sequence[Report]
    closing: Closing | None = None


@dataclass(frozen=True)
class Privacy:
    """What the routing file's `privacy:` allows an export to carry."""

    store_output_text: bool = True
    redact: tuple[str, ...] = ()


def record(found: DatasetCase, privacy: Privacy) -> dict[str, Any]:
    """The canonical record of a case (RECORD_FIELDS, in that order).

    Several reports on one case: the input, output, expected answer and comment are the
    first reporter's that gave one; the output falls back on the case's excerpt. Redaction
    is applied again, with today's routing, to every free text: rows stored before a kind
    was added to `privacy.redact` are covered too.
    """
    case, reports = found.case, sorted(found.reports, key=lambda r: (r.created_at, r.id or 0))
    keep_text = privacy.store_output_text
    output = _first(r.output for r in reports) or case.output_excerpt
    closing = found.closing
    values: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "id": case_id(case),
        "case_number": case.id,
        "system": case.system_id,
        "category": case.category_id,
        "severity": case.severity.value,
        "input": _clean(_first(r.input for r in reports), privacy) if keep_text else None,
        "output": _clean(output, privacy) if keep_text else None,
        "expected": _clean(_first(r.expected for r in reports), privacy),
        "comment": _clean(_first(r.comment for r in reports), privacy),
        "trace_id": case.trace_id,
        "prompt_version": case.prompt_version,
        "model": case.model,
        "status": case.status.value,
        "resolution": _clean(closing.note, privacy) if closing else None,
        "reason": closing.reason if closing else None,
        "permalink": case.output_permalink,
        "created_at": case.created_at.astimezone(UTC).isoformat(),
    }
    return {name: values[name] for name in RECORD_FIELDS}


def case_id(case: Case) -> str:
    """A case's id in a dataset: stable across exports, so a re-import can dedupe on it."""
    return f"loopkeeper-case-{case.id}"


def _first(values: Iterable[str | None]) -> str | None:
    return next((v for v in values if v and v.strip()), None)


def _clean(text: str | None, privacy: Privacy) -> str | None:
    return None if text is None else redact(text, privacy.redact)
