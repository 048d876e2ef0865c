"""The synthetic weeks written to a migrated SQLite file, for the run through the real store.

Plain sqlite3 executemany, in the layout SQLAlchemy writes (naive UTC text timestamps), so the
measuring process reads them back through `storage.theme_texts` like the bot would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bench.themes.data import WEEK_START
from digests.themes.model import ThemeInput
from storage.migrate import upgrade


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(path: str, weeks: Sequence[Sequence[ThemeInput]]) -> None:
    """`weeks[0]` in 2026-W07, `weeks[1]` in the week before; reports spread over each week."""
    upgrade(f"sqlite+aiosqlite:///{path}")
    cases: dict[int, tuple[object, ...]] = {}
    reports: list[tuple[object, ...]] = []
    for offset, week in enumerate(weeks):
        start = WEEK_START - timedelta(weeks=offset)
        for position, item in enumerate(week):
            at = _stamp(start + timedelta(seconds=position * 7 * 86_400 // max(len(week), 1)))
            cases.setdefault(
                item.case_id,
                (item.case_id, f"bench:{item.case_id}", item.system_id, item.category_id,
                 "medium", "new", item.output, 0, at, at),
            )  # fmt: skip
            reports.append(
                (len(reports) + 1, item.case_id, f"u{len(reports)}", "slack_reaction",
                 item.category_id, "medium", item.comment, item.expected, at, at)
            )  # fmt: skip
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO cases (id, output_key, system_id, category_id, severity, status, "
            "output_excerpt, report_count, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            cases.values(),
        )
        connection.executemany(
            "INSERT INTO reports (id, case_id, reporter_id, channel, category_id, severity, "
            "comment, expected, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            reports,
        )
