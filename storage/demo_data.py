"""Demo cases in SQL: count them, and remove them with everything recorded about them."""

from __future__ import annotations

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.digest_tables import ReporterToldRow
from storage.tables import CaseRow, TimelineRow


class SqlDemoData:
    """`digests.reads.DemoData`: demo cases are those whose output key starts with a prefix."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def count_cases(self, prefix: str) -> int:
        async with self._engine.connect() as connection:
            count = await connection.scalar(
                select(func.count()).where(CaseRow.output_key.startswith(prefix, autoescape=True))
            )
        return int(count or 0)

    async def delete_cases(self, prefix: str) -> int:
        """Remove the cases (reports, timeline, timers, reporters told); the count.

        The case timeline is append-only (triggers, migration 0003). These cases' whole chains
        are removed in one transaction during which those triggers are suspended and then
        restored, so no other session ever sees the table unguarded, and every other case's
        chain is untouched.
        """
        chosen = select(CaseRow.id).where(CaseRow.output_key.startswith(prefix, autoescape=True))
        async with self._engine.begin() as connection:
            restore = await _suspend_timeline_guard(connection)
            await connection.execute(delete(TimelineRow).where(TimelineRow.case_id.in_(chosen)))
            await connection.execute(
                delete(ReporterToldRow).where(ReporterToldRow.case_id.in_(chosen))
            )
            result = await connection.execute(
                delete(CaseRow).where(CaseRow.output_key.startswith(prefix, autoescape=True))
            )
            for statement in restore:
                await connection.execute(text(statement))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _suspend_timeline_guard(connection: AsyncConnection) -> list[str]:
    """Disable the timeline's append-only triggers; the statements that restore them."""
    if connection.dialect.name == "postgresql":
        names = (
            await connection.execute(
                text(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'case_timeline'::regclass "
                    "AND NOT tgisinternal AND tgenabled <> 'D'"
                )
            )
        ).scalars()
        restore = []
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            await connection.execute(text(f"ALTER TABLE case_timeline DISABLE TRIGGER {quoted}"))
            restore.append(f"ALTER TABLE case_timeline ENABLE TRIGGER {quoted}")
        return restore
    triggers = (
        await connection.execute(
            text(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'trigger' AND tbl_name = 'case_timeline'"
            )
        )
    ).all()
    for name, _ in triggers:
        quoted = '"' + name.replace('"', '""') + '"'
        await connection.execute(text(f"DROP TRIGGER {quoted}"))
    return [sql for _, sql in triggers]
