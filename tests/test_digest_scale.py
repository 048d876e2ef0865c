"""The digest's cost follows the size of its week, not of the history: on SQLite, every statement
it runs finds its rows through an index, never by reading a whole table of cases, reports,
timeline entries or receipts (bench/digest measures it at 10 M reports on both databases)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.dialects import sqlite

from digests.week import IsoWeek
from digests.window import Window
from storage.digest_queries import DigestQueries
from storage.migrate import upgrade

HISTORY_TABLES = ("cases", "reports", "case_timeline", "reporters_told")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scale") / "digest.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.mark.parametrize("systems", [None, ["support-assistant"]])
def test_no_digest_statement_reads_a_whole_history_table(
    migrated: Path, systems: list[str] | None
) -> None:
    window = Window.of(IsoWeek(2026, 7), "Europe/London", datetime(2026, 2, 16, 9, tzinfo=UTC))
    statements = DigestQueries("sqlite", window, systems).statements()
    connection = sqlite3.connect(migrated)
    try:
        for name, statement in statements.items():
            sql = str(
                statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
            )
            plan = [row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + sql)]
            scans = [s for s in plan if s.startswith("SCAN ") and s.split()[1] in HISTORY_TABLES]
            assert scans == [], f"{name}: {plan}"
    finally:
        connection.close()
