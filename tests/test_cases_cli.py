"""`loopkeeper cases` and `loopkeeper audit verify` on a real database, and the SLA wording."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.app.cli import app
from bot.app.cli_cases import CASE_EXPORT_FIELDS
from bot.core.models import Case, CaseStatus, Channel, Report, Role, Severity, TimelineEntry
from bot.core.sla import sla_state, span
from storage.database import create_engine
from storage.repository import SqlCaseStore
from tests.test_audit import set_values, tamper

SEC = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def invoke(database_url: str | None, *args: str) -> Result:
    """Run the CLI as an operator would; it calls asyncio.run, so not on the test's loop."""
    env = {"LOOPKEEPER_DATABASE_URL": database_url} if database_url else {}
    return CliRunner().invoke(app, list(args), env=env)


async def run_cli(database_url: str | None, *args: str) -> Result:
    return await asyncio.to_thread(invoke, database_url, *args)


@dataclass(frozen=True)
class Seeded:
    overdue: Case  # new, support-assistant, acknowledgement 2h late
    working: Case  # acknowledged, code-helper, two reporters
    done: Case  # resolved in time
    unowned: Case  # new, nobody routed
    entry_ids: list[int]


async def seed(store: SqlCaseStore, now: datetime) -> Seeded:
    """Four cases filed the way the intake files them: case, reports, timeline."""
    specs = [
        ("overdue", "support-assistant", {"acknowledge_due_at": now - 2 * HOUR - 10 * 60 * SEC}),
        (
            "working",
            "code-helper",
            {
                "status": CaseStatus.acknowledged,
                "acknowledged_at": now - HOUR,
                "resolve_due_at": now + 2 * DAY + HOUR,
            },
        ),
        (
            "done",
            "support-assistant",
            {
                "status": CaseStatus.resolved,
                "acknowledge_due_at": now - 4 * HOUR,
                "acknowledged_at": now - 5 * HOUR,
                "closed_at": now - HOUR,
                "resolve_due_at": now + DAY,
            },
        ),
        ("unowned", "support-assistant", {"owner": None, "owner_role": None}),
    ]
    cases: dict[str, Case] = {}
    entry_ids: list[int] = []
    for number, (name, system, fields) in enumerate(specs):
        opened = now - (4 - number) * DAY
        reporters = ["slack:U0ONE", "slack:U0TWO"] if name == "working" else ["slack:U0ONE"]
        async with store.transaction() as tx:
            case, created = await tx.lock_or_create_case(
                Case.model_validate(
                    {
                        "output_key": f"slack:C0:{name}",
                        "system_id": system,
                        "category_id": "hallucination",
                        "severity": Severity.high,
                        "owner": "alice",
                        "owner_role": Role.validation,
                        "acknowledge_due_at": opened + 4 * HOUR,
                        "resolve_due_at": opened + 3 * DAY,
                        "trace_id": f"tr-{name}",
                        "created_at": opened,
                        "updated_at": opened,
                    }
                )
            )
            assert created and case.id is not None
            for reporter in reporters:
                await tx.add_report(
                    Report(
                        case_id=case.id,
                        reporter_id=reporter,
                        channel=Channel.slack_reaction,
                        category_id="hallucination",
                        severity=Severity.high,
                        created_at=opened,
                        updated_at=opened,
                    )
                )
                entry = await tx.append_timeline(
                    TimelineEntry(
                        case_id=case.id, at=opened, actor=reporter, kind="reported", detail={}
                    )
                )
                assert entry.id is not None
                entry_ids.append(entry.id)
            update = {"report_count": len(reporters), **fields}
            cases[name] = await tx.save_case(case.model_copy(update=update))
    return Seeded(**cases, entry_ids=entry_ids)


@pytest.fixture
async def seeded(store: SqlCaseStore) -> Seeded:
    return await seed(store, datetime.now(UTC))


# --- cases -------------------------------------------------------------------------------------


async def test_cases_table_lists_every_case_oldest_first(database_url: str, seeded: Seeded) -> None:
    result = await run_cli(database_url, "cases")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "Case" in line)
    for column in ("Status", "Severity", "System", "Category", "Owner", "Reporters", "SLA"):
        assert column in header
    rows = [line for line in lines if line.strip().startswith("#")]
    assert [row.split()[0] for row in rows] == [
        f"#{seeded.overdue.id}",
        f"#{seeded.working.id}",
        f"#{seeded.done.id}",
        f"#{seeded.unowned.id}",
    ]
    overdue, working, done, unowned = rows
    assert "new" in overdue and "support-assistant" in overdue and "ack overdue 2h" in overdue
    assert "acknowledged" in working and "code-helper" in working
    assert "resolve due in 2d" in working and " 2 " in working
    assert "resolved" in done and "met" in done
    assert "—" in unowned and "alice" not in unowned
    assert seeded.overdue.created_at.strftime("%Y-%m-%d %H:%M") in overdue


async def test_cases_csv_has_a_header_and_honours_the_filters(
    database_url: str, seeded: Seeded
) -> None:
    async def export(*args: str) -> list[dict[str, str]]:
        result = await run_cli(database_url, "cases", "--format", "csv", *args)
        assert result.exit_code == 0, result.output
        reader = csv.DictReader(io.StringIO(result.stdout))
        assert reader.fieldnames == CASE_EXPORT_FIELDS
        return list(reader)

    everything = await export()
    new = await export("--status", "new")
    code_helper = await export("--system", "code-helper")
    none = await export("--status", "new", "--system", "code-helper")

    assert [row["case"] for row in everything] == [
        str(c.id) for c in (seeded.overdue, seeded.working, seeded.done, seeded.unowned)
    ]
    assert [row["case"] for row in new] == [str(seeded.overdue.id), str(seeded.unowned.id)]
    [working] = code_helper
    assert working == {
        **working,
        "case": str(seeded.working.id),
        "status": "acknowledged",
        "severity": "high",
        "system": "code-helper",
        "category": "hallucination",
        "owner": "alice",
        "reporters": "2",
        "sla": "resolve due in 2d",
        "closed_at": "",
        "trace_id": "tr-working",
    }
    assert datetime.fromisoformat(working["opened_at"]) == seeded.working.created_at
    assert none == []


async def test_cases_json_is_a_list_with_iso_datetimes(database_url: str, seeded: Seeded) -> None:
    result = await run_cli(database_url, "cases", "--format", "json", "--status", "RESOLVED")

    assert result.exit_code == 0, result.output
    [done] = json.loads(result.stdout)
    assert list(done) == CASE_EXPORT_FIELDS
    assert (done["case"], done["status"], done["sla"], done["reporters"]) == (
        seeded.done.id,
        "resolved",
        "met",
        1,
    )
    assert datetime.fromisoformat(done["closed_at"]) == seeded.done.closed_at
    assert datetime.fromisoformat(done["opened_at"]).tzinfo is not None
    assert done["permalink"] is None

    everything = json.loads((await run_cli(database_url, "cases", "--format", "json")).stdout)
    assert [item["case"] for item in everything] == [
        c.id for c in (seeded.overdue, seeded.working, seeded.done, seeded.unowned)
    ]
    assert everything[3]["owner"] is None


async def test_cases_with_no_match(database_url: str, seeded: Seeded) -> None:
    table = await run_cli(database_url, "cases", "--system", "nope")
    as_csv = await run_cli(database_url, "cases", "--system", "nope", "--format", "csv")
    as_json = await run_cli(database_url, "cases", "--system", "nope", "--format", "json")

    assert "No cases." in table.stdout
    assert as_csv.stdout == ",".join(CASE_EXPORT_FIELDS) + "\n"
    assert json.loads(as_json.stdout) == []


async def test_an_unknown_status_is_refused_listing_the_valid_ones(database_url: str) -> None:
    result = await run_cli(database_url, "cases", "--status", "open-ish")

    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "--status" in message and "open-ish" in message
    for status in CaseStatus:
        assert status.value in message


async def test_read_commands_refuse_a_database_that_is_missing_or_not_migrated(
    tmp_path: Path,
) -> None:
    missing = f"sqlite+aiosqlite:///{tmp_path / 'nowhere.db'}"
    empty_file = tmp_path / "empty.db"
    engine = create_engine(f"sqlite+aiosqlite:///{empty_file}")
    async with engine.begin():
        pass
    await engine.dispose()

    for url, says in [(missing, "No database at"), (f"sqlite+aiosqlite:///{empty_file}", "")]:
        for args in (["cases"], ["audit", "verify"]):
            result = await run_cli(url, *args)
            assert result.exit_code == 1, result.output
            assert says in result.output
            assert "Traceback" not in result.output
    assert not (tmp_path / "nowhere.db").exists()
    result = await run_cli(f"sqlite+aiosqlite:///{empty_file}", "cases")
    assert "loopkeeper db upgrade" in " ".join(result.output.split())


# --- audit verify ------------------------------------------------------------------------------


async def test_audit_verify_passes_then_names_the_altered_entry(
    database_url: str, store: SqlCaseStore, seeded: Seeded
) -> None:
    good = await run_cli(database_url, "audit", "verify")

    assert good.exit_code == 0, good.output
    assert good.stdout.strip() == "✓ 5 timeline entries in 4 cases verified"

    altered = seeded.entry_ids[2]  # the second reporter's entry on the "working" case
    await tamper(store.engine, set_values(altered, actor="slack:U0MALLORY"))
    [entry] = [e for e in await store.timeline(seeded.working.id or 0) if e.id == altered]
    bad = await run_cli(database_url, "audit", "verify")

    assert bad.exit_code == 1
    assert bad.stdout.strip() == (
        f"✗ entry #{altered} (case #{seeded.working.id}, at {entry.at.isoformat()}): "
        "hash does not match its content"
    )
    assert "1 of 5 timeline entries in 4 cases failed verification." in bad.stderr


async def test_audit_verify_on_an_empty_database(database_url: str) -> None:
    result = await run_cli(database_url, "audit", "verify")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "✓ 0 timeline entries in 0 cases verified"


# --- SLA wording -------------------------------------------------------------------------------

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def a_case(**fields: object) -> Case:
    values: dict[str, object] = {
        "output_key": "k",
        "system_id": "s",
        "category_id": "c",
        "severity": Severity.high,
        "created_at": NOW - DAY,
        "updated_at": NOW - DAY,
        "acknowledge_due_at": NOW + 3 * HOUR + 59 * 60 * SEC,
        "resolve_due_at": NOW + 2 * DAY + 5 * HOUR,
        **fields,
    }
    return Case.model_validate(values)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "ack due in 3h"),
        ({"acknowledge_due_at": NOW - 2 * HOUR - 59 * 60 * SEC}, "ack overdue 2h"),
        ({"acknowledge_due_at": NOW}, "ack overdue <1m"),
        ({"acknowledge_due_at": NOW + 45 * 60 * SEC}, "ack due in 45m"),
        ({"status": CaseStatus.acknowledged, "acknowledged_at": NOW - HOUR}, "resolve due in 2d"),
        (
            {
                "status": CaseStatus.needs_info,
                "acknowledged_at": NOW - HOUR,
                "resolve_due_at": NOW - 3 * DAY,
            },
            "resolve overdue 3d",
        ),
        # asking for information is not an acknowledgement: the ack clock still runs
        ({"status": CaseStatus.needs_info, "acknowledge_due_at": NOW - HOUR}, "ack overdue 1h"),
        ({"acknowledge_due_at": None, "resolve_due_at": None}, "—"),
        ({"acknowledge_due_at": None}, "resolve due in 2d"),
        (
            {"status": CaseStatus.resolved, "acknowledged_at": NOW - HOUR, "closed_at": NOW},
            "met",
        ),
        ({"status": CaseStatus.duplicate, "closed_at": NOW}, "met"),  # closing answered it
        (
            {"status": CaseStatus.wont_fix, "closed_at": NOW + 3 * DAY},
            "resolve missed by 19h",
        ),
        (
            {
                "status": CaseStatus.resolved,
                "acknowledged_at": NOW + 6 * HOUR,
                "closed_at": NOW + DAY,
            },
            "ack missed by 2h",
        ),
        (
            {
                "status": CaseStatus.resolved,
                "closed_at": NOW,
                "acknowledge_due_at": None,
                "resolve_due_at": None,
            },
            "—",
        ),
    ],
)
def test_sla_state(fields: dict[str, object], expected: str) -> None:
    assert sla_state(a_case(**fields), NOW) == expected


def test_span_rounds_down_to_the_largest_unit() -> None:
    assert [span(d) for d in (DAY * 9, DAY + 23 * HOUR, HOUR, 59 * SEC, -HOUR)] == [
        "9d",
        "1d",
        "1h",
        "<1m",
        "<1m",
    ]
