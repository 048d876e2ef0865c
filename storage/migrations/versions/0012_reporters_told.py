"""Reporters told: loop closure recorded when each outcome notice is delivered.

The digest used to find outcome notices by their outbox keys; it now counts these rows. The
upgrade carries over what the outbox still remembers (delivered outcome notices are kept five
weeks): for each closed case, the notices queued with its latest closing. This is the one place
that reads those keys, once.

Revision ID: 0012
Revises: 0011 (in this branch; 0008 on main: the lead re-chains)
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CLOSING_SLACK = timedelta(hours=1)
"""Notices were queued in the transaction that closed the case: this close to `closed_at`."""


def upgrade() -> None:
    op.create_table(
        "reporters_told",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("report_id", ID, nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owed", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reporters_told"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_reporters_told_case_id_cases", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("case_id", "report_id", "closed_at", name="uq_reporters_told_case_id"),
    )
    op.create_index("ix_reporters_told_closed_at", "reporters_told", ["closed_at"])
    _carry_over(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_reporters_told_closed_at", table_name="reporters_told")
    op.drop_table("reporters_told")


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _carry_over(connection: sa.Connection) -> None:
    """Receipts for the delivered outcome notices the outbox still holds."""
    notices = connection.execute(
        sa.text(
            "SELECT dedupe_key, platform, created_at, delivered_at FROM outbox "
            "WHERE dedupe_key LIKE 'slack:outcome:%' OR dedupe_key LIKE 'teams:outcome:%'"
        )
    ).all()
    by_case: dict[int, list[tuple[int, str, datetime, datetime | None]]] = defaultdict(list)
    for key, platform, created_at, delivered_at in notices:
        parts = key.split(":")  # '{platform}:outcome:{case_id}:{report_id}:…'
        if len(parts) < 4 or not (parts[2].isdigit() and parts[3].isdigit()):
            continue
        delivered = _aware(delivered_at) if delivered_at is not None else None
        by_case[int(parts[2])].append((int(parts[3]), platform, _aware(created_at), delivered))
    if not by_case:
        return
    closings = connection.execute(
        sa.text("SELECT id, closed_at FROM cases WHERE closed_at IS NOT NULL")
    ).all()
    rows = []
    for case_id, closed_at in closings:
        if case_id not in by_case:
            continue
        closed = _aware(closed_at)
        batch = [n for n in by_case[case_id] if abs(n[2] - closed) <= CLOSING_SLACK]
        for report_id, platform, _, delivered in batch:
            if delivered is not None:
                rows.append(
                    {
                        "case_id": case_id,
                        "report_id": report_id,
                        "closed_at": closed_at,
                        "owed": len(batch),
                        "platform": platform,
                        "told_at": delivered_at_of(delivered, connection),
                    }
                )
    if rows:
        connection.execute(
            sa.text(
                "INSERT INTO reporters_told "
                "(case_id, report_id, closed_at, owed, platform, told_at) "
                "VALUES (:case_id, :report_id, :closed_at, :owed, :platform, :told_at)"
            ),
            _deduplicated(rows),
        )


def delivered_at_of(moment: datetime, connection: sa.Connection) -> Any:
    """As the column stores it: naive UTC text on SQLite, aware on PostgreSQL."""
    return moment.replace(tzinfo=None) if connection.dialect.name == "sqlite" else moment


def _deduplicated(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        seen.setdefault((row["case_id"], row["report_id"], row["closed_at"]), row)
    return list(seen.values())
