"""Years of older history under the benchmark's year: many reports the digest must not read.

`python -m bench.digest.history URL REPORTS CASES` adds REPORTS reports in CASES closed cases,
spread evenly over the weeks before the year `bench.digest.data` generates, at the same weekly
volume as that year. The rows are made by the database itself (generate_series on PostgreSQL,
a recursive CTE on SQLite): ten million rows in minutes, not in an hour of Python. Timeline
hashes are placeholders (the digest never verifies chains); every other column is as the bot
writes it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import make_url

from bench.digest.data import NOW, SPAN
from bench.digest.load import asyncpg_dsn, sqlite_path

CATEGORIES = (
    ("hallucination", "high", "validation"),
    ("unsafe", "critical", "governance"),
    ("pii_leak", "critical", "governance"),
    ("bad_format", "low", "prompt"),
    ("edge_case", "medium", "validation"),
    ("other", "medium", "validation"),
)
TABLES = ("cases", "reports", "case_timeline", "reporters_told")


def history_span(reports: int, weekly_reports: float) -> timedelta:
    """How far back the history reaches at `weekly_reports` a week."""
    return timedelta(weeks=max(reports / weekly_reports, 1.0))


def _plan(reports: int, cases: int, weekly: float) -> tuple[int, datetime, float]:
    per_case = max(reports // cases, 1)
    end = NOW - SPAN
    start = end - history_span(cases * per_case, weekly)
    step_seconds = (end - start).total_seconds() / cases
    return per_case, start, step_seconds


def _values() -> str:
    return ", ".join(f"({i}, '{c}', '{s}', '{r}')" for i, (c, s, r) in enumerate(CATEGORIES))


POSTGRES = [
    """INSERT INTO cases (id, output_key, system_id, category_id, severity, status, owner,
        owner_role, output_platform, output_channel_id, output_ts, output_excerpt, report_count,
        acknowledge_due_at, resolve_due_at, created_at, updated_at, closed_at, acknowledged_at)
    SELECT {base} + g, 'bench:history:' || g, 'assistant-' || (g % 6), c.category, c.severity,
        'resolved', 'owner' || (2 * (g % 6)), c.role, 'slack', 'C0AI', g::text,
        'An answer that someone flagged.', {per}, t + interval '1 hour', t + interval '3 days',
        t, t + interval '2 days', t + interval '2 days', t + interval '1 hour'
    FROM (SELECT g, timestamptz '{start}' + (g - 1) * interval '{step} seconds' AS t
          FROM generate_series(1, {cases}) AS g) AS s
    JOIN (VALUES {values}) AS c(k, category, severity, role) ON c.k = s.g % 6""",
    """INSERT INTO reports (id, case_id, reporter_id, channel, category_id, severity,
        created_at, updated_at)
    SELECT {report_base} + (c.id - {base} - 1) * {per} + k, c.id,
        'bench:user-' || ((c.id * 7 + k) % 50000), 'slack_reaction', c.category_id, c.severity,
        c.created_at + k * interval '1 hour', c.created_at + k * interval '1 hour'
    FROM cases AS c CROSS JOIN generate_series(1, {per}) AS k WHERE c.id > {base}""",
    """INSERT INTO case_timeline (id, case_id, at, actor, kind, detail, prev_hash, hash)
    SELECT {timeline_base} + (c.id - {base} - 1) * 3 + k, c.id,
        c.created_at + (ARRAY[interval '0', interval '1 hour', interval '2 days'])[k], 'owner0',
        (ARRAY['opened', 'acknowledge', 'resolved'])[k], '{{}}'::json,
        lpad((c.id * 10 + k - 1)::text, 64, '0'), lpad((c.id * 10 + k)::text, 64, '0')
    FROM cases AS c CROSS JOIN generate_series(1, 3) AS k WHERE c.id > {base}""",
    """INSERT INTO reporters_told (id, case_id, report_id, closed_at, owed, platform, told_at)
    SELECT {told_base} + c.id - {base}, c.id, {report_base} + (c.id - {base} - 1) * {per} + 1,
        c.closed_at, 1, 'slack', c.closed_at + interval '20 seconds'
    FROM cases AS c WHERE c.id > {base}""",
]

SQLITE_NUMBERS = "WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < {count})"
SQLITE_TIME = "strftime('%Y-%m-%d %H:%M:%f', {moment}) || '000'"


def _sqlite_at(days: str) -> str:
    return SQLITE_TIME.format(moment=f"julianday('{{start}}') + {days}")


SQLITE = [
    SQLITE_NUMBERS.format(count="{cases}")
    + """ INSERT INTO cases (id, output_key, system_id, category_id, severity, status, owner,
        owner_role, output_platform, output_channel_id, output_ts, output_excerpt, report_count,
        acknowledge_due_at, resolve_due_at, created_at, updated_at, closed_at, acknowledged_at)
    SELECT {base} + g, 'bench:history:' || g, 'assistant-' || (g % 6), c.category, c.severity,
        'resolved', 'owner' || (2 * (g % 6)), c.role, 'slack', 'C0AI', CAST(g AS TEXT),
        'An answer that someone flagged.', {per}, """
    + ", ".join(
        _sqlite_at(f"(g - 1) * {{step_days}} + {offset}")
        for offset in ("1.0 / 24", "3", "0", "2", "2", "1.0 / 24")
    )
    + """ FROM n JOIN (SELECT column1 AS k, column2 AS category, column3 AS severity,
        column4 AS role FROM (VALUES {values})) AS c ON c.k = n.g % 6""",
    SQLITE_NUMBERS.format(count="{per}")
    + """ INSERT INTO reports (id, case_id, reporter_id, channel, category_id, severity,
        created_at, updated_at)
    SELECT {report_base} + (c.id - {base} - 1) * {per} + g, c.id,
        'bench:user-' || ((c.id * 7 + g) % 50000), 'slack_reaction', c.category_id, c.severity,
        strftime('%Y-%m-%d %H:%M:%f', julianday(c.created_at) + g / 24.0) || '000',
        strftime('%Y-%m-%d %H:%M:%f', julianday(c.created_at) + g / 24.0) || '000'
    FROM cases AS c, n WHERE c.id > {base}""",
    """INSERT INTO case_timeline (id, case_id, at, actor, kind, detail, prev_hash, hash)
    SELECT {timeline_base} + (c.id - {base} - 1) * 3 + k.k, c.id,
        CASE k.k WHEN 1 THEN c.created_at WHEN 2 THEN c.acknowledged_at ELSE c.closed_at END,
        'owner0', CASE k.k WHEN 1 THEN 'opened' WHEN 2 THEN 'acknowledge' ELSE 'resolved' END,
        '{{}}', printf('%064d', c.id * 10 + k.k - 1), printf('%064d', c.id * 10 + k.k)
    FROM cases AS c, (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3) AS k
    WHERE c.id > {base}""",
    """INSERT INTO reporters_told (id, case_id, report_id, closed_at, owed, platform, told_at)
    SELECT {told_base} + c.id - {base}, c.id, {report_base} + (c.id - {base} - 1) * {per} + 1,
        c.closed_at, 1, 'slack', c.closed_at
    FROM cases AS c WHERE c.id > {base}""",
]


def _parameters(bases: dict[str, int], reports: int, cases: int, weekly: float) -> dict[str, str]:
    per, start, step = _plan(reports, cases, weekly)
    return {
        "base": str(bases["cases"]),
        "report_base": str(bases["reports"]),
        "timeline_base": str(bases["case_timeline"]),
        "told_base": str(bases["reporters_told"]),
        "per": str(per),
        "cases": str(cases),
        "start": start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "step": f"{step:.6f}",
        "step_days": f"{step / 86400:.12f}",
        "values": _values(),
    }


async def fill_postgres(url: str, reports: int, cases: int, weekly: float) -> None:
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        bases = {
            t: await connection.fetchval(f"SELECT coalesce(max(id), 0) FROM {t}") for t in TABLES
        }
        values = _parameters(bases, reports, cases, weekly)
        for statement in POSTGRES:
            started = time.perf_counter()
            await connection.execute(statement.format(**values))
            print(f"  {statement.split()[2]}: {time.perf_counter() - started:.0f} s", flush=True)
        for table in TABLES:
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


def fill_sqlite(url: str, reports: int, cases: int, weekly: float) -> None:
    connection = sqlite3.connect(sqlite_path(url), isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA foreign_keys=OFF")
        connection.execute("PRAGMA cache_size=-200000")
        bases = {
            t: connection.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0]
            for t in TABLES
        }
        values = _parameters(bases, reports, cases, weekly)
        for statement in SQLITE:
            started = time.perf_counter()
            connection.execute("BEGIN")
            connection.execute(statement.format(**values))
            connection.execute("COMMIT")
            table = statement.split("INSERT INTO ")[1].split()[0]
            print(f"  {table}: {time.perf_counter() - started:.0f} s", flush=True)
        connection.execute("ANALYZE")
    finally:
        connection.close()


def main(argv: list[str]) -> None:
    url, reports, cases, weekly = argv[0], int(argv[1]), int(argv[2]), float(argv[3])
    if make_url(url).get_backend_name() == "postgresql":
        asyncio.run(fill_postgres(url, reports, cases, weekly))
    else:
        fill_sqlite(url, reports, cases, weekly)


if __name__ == "__main__":
    main(sys.argv[1:])
