"""`loopkeeper cases`: cases, oldest first, with their SLA state, as a table, CSV or JSON.

Registered on the main command line by bot/app/cli.py.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.app.cli_common import on_database, out, settings_or_exit
from bot.core.models import Case, CaseStatus
from bot.core.sla import sla_state
from bot.core.spreadsheet import spreadsheet_cell

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


class CaseFormat(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


CASE_COLUMNS = ("Case", "Status", "Severity", "System", "Category", "Owner", "Reporters")
CASE_EXPORT_FIELDS = [
    "case", "status", "severity", "system", "category", "owner", "reporters", "opened_at", "sla",
    "acknowledge_due_at", "acknowledged_at", "resolve_due_at", "closed_at", "trace_id",
    "permalink",
]  # fmt: skip


def list_cases(
    status: Annotated[
        CaseStatus | None, typer.Option(help="only cases with this status", case_sensitive=False)
    ] = None,
    system: Annotated[str | None, typer.Option(help="only cases of this AI system (id)")] = None,
    output_format: Annotated[
        CaseFormat, typer.Option("--format", help="table for people; csv or json to export")
    ] = CaseFormat.table,
) -> None:
    """List cases, oldest first, with where each stands against its SLA."""
    from storage.repository import SqlCaseStore

    async def read(engine: AsyncEngine) -> list[Case]:
        store = SqlCaseStore(engine)
        try:
            return await store.list_cases(status=status, system_id=system)
        finally:
            await store.close()

    found = on_database(settings_or_exit(), read)
    now = datetime.now(UTC)
    if output_format is CaseFormat.table:
        _print_case_table(found, now)
        return
    records = [_case_record(case, now) for case in found]
    if output_format is CaseFormat.json:
        typer.echo(json.dumps(records, indent=2, ensure_ascii=False))
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CASE_EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: spreadsheet_cell(v) for k, v in r.items()} for r in records)
    typer.echo(buffer.getvalue(), nl=False)


def _case_record(case: Case, now: datetime) -> dict[str, Any]:
    """One case as an export row (CASE_EXPORT_FIELDS): the table's columns, deadlines, trace."""
    return {
        "case": case.id,
        "status": case.status.value,
        "severity": case.severity.value,
        "system": case.system_id,
        "category": case.category_id,
        "owner": case.owner,
        "reporters": case.report_count,
        "opened_at": _iso(case.created_at),
        "sla": sla_state(case, now),
        "acknowledge_due_at": _iso(case.acknowledge_due_at),
        "acknowledged_at": _iso(case.acknowledged_at),
        "resolve_due_at": _iso(case.resolve_due_at),
        "closed_at": _iso(case.closed_at),
        "trace_id": case.trace_id,
        "permalink": case.output_permalink,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _print_case_table(cases: list[Case], now: datetime) -> None:
    if not cases:
        out.print("No cases.")
        return
    table = Table(show_edge=False, pad_edge=False)
    for heading in CASE_COLUMNS:
        table.add_column(heading, justify="right" if heading in ("Case", "Reporters") else "left")
    table.add_column("Opened (UTC)", no_wrap=True)
    table.add_column("SLA", no_wrap=True)
    for case in cases:
        sla = sla_state(case, now)
        late = "overdue" in sla or "missed" in sla
        cells = (
            f"#{case.id}",
            case.status.value,
            case.severity.value,
            case.system_id,
            case.category_id,
            case.owner or "—",
            str(case.report_count),
            case.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
        )
        table.add_row(*(Text(cell) for cell in cells), Text(sla, style="red" if late else ""))
    # Piped or redirected output is not cut to 80 columns.
    console = out if out.is_terminal else Console(width=1000)
    console.print(table)
