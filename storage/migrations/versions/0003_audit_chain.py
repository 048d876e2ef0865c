"""Audit chain: hash-link each case's timeline entries; make the timeline append-only.

Adds `prev_hash` and `hash` to case_timeline and computes them for the entries already there,
then makes the database refuse UPDATE and DELETE on the table (a trigger on PostgreSQL,
two on SQLite). Deleting a case that has timeline entries is refused too (the cascade is a
DELETE). TRUNCATE is not guarded.

A later SQLite batch migration that recreates case_timeline drops its triggers and must
create them again (SQLITE_TRIGGERS below). The triggers name only case_timeline, so batch
migrations of other tables (which drop and rename them) are unaffected.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:00:00
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in storage/tables.py at this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
HASH = sa.String(64)

GENESIS_HASH = "0" * 64
BACKFILL_BATCH = 1000
APPEND_ONLY = "case_timeline is append-only"

POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION case_timeline_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{APPEND_ONLY}'
        USING HINT = 'Timeline entries are hash-chained: append a correcting entry instead.';
END;
$$
"""
POSTGRES_TRIGGER = """
CREATE TRIGGER case_timeline_append_only
BEFORE UPDATE OR DELETE ON case_timeline
FOR EACH ROW EXECUTE FUNCTION case_timeline_append_only()
"""
SQLITE_TRIGGERS = {
    "case_timeline_no_update": f"""
CREATE TRIGGER case_timeline_no_update BEFORE UPDATE ON case_timeline
BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END
""",
    "case_timeline_no_delete": f"""
CREATE TRIGGER case_timeline_no_delete BEFORE DELETE ON case_timeline
BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END
""",
}


def upgrade() -> None:
    with op.batch_alter_table("case_timeline") as batch:
        batch.add_column(sa.Column("prev_hash", HASH, nullable=True))
        batch.add_column(sa.Column("hash", HASH, nullable=True))
    op.create_index("ix_case_timeline_case_id_id", "case_timeline", ["case_id", "id"])
    if not context.is_offline_mode():  # `--sql` output cannot read rows: run it on empty tables
        _backfill(op.get_bind())
    with op.batch_alter_table("case_timeline") as batch:
        batch.alter_column("prev_hash", existing_type=HASH, nullable=False)
        batch.alter_column("hash", existing_type=HASH, nullable=False)
        batch.create_unique_constraint(
            "uq_case_timeline_case_id_prev_hash", ["case_id", "prev_hash"]
        )
    if _dialect() == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        for sql in SQLITE_TRIGGERS.values():
            op.execute(sql)


def downgrade() -> None:
    if _dialect() == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_timeline_append_only ON case_timeline")
        op.execute("DROP FUNCTION IF EXISTS case_timeline_append_only()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_case_timeline_case_id_id", table_name="case_timeline")
    with op.batch_alter_table("case_timeline") as batch:
        batch.drop_constraint("uq_case_timeline_case_id_prev_hash", type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")


def _dialect() -> str:
    return str(context.get_context().dialect.name)


_timeline = sa.table(
    "case_timeline",
    sa.column("id", ID),
    sa.column("case_id", ID),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("detail", JSON),
    sa.column("prev_hash", HASH),
    sa.column("hash", HASH),
)


def _backfill(connection: Connection) -> None:
    """Chain the existing entries of each case in id order, a batch at a time."""
    t = _timeline
    content = sa.select(t.c.id, t.c.case_id, t.c.at, t.c.actor, t.c.kind, t.c.detail)
    set_hashes = (
        sa.update(t)
        .where(t.c.id == sa.bindparam("row_id"))
        .values(prev_hash=sa.bindparam("new_prev_hash"), hash=sa.bindparam("new_hash"))
    )
    after: tuple[int, int] | None = None
    prev_hash = GENESIS_HASH
    while True:
        statement = content.order_by(t.c.case_id, t.c.id).limit(BACKFILL_BATCH)
        if after is not None:
            case_id, entry_id = after
            statement = statement.where(
                sa.or_(t.c.case_id > case_id, sa.and_(t.c.case_id == case_id, t.c.id > entry_id))
            )
        rows = connection.execute(statement).all()
        if not rows:
            return
        updates = []
        for row in rows:
            if after is None or row.case_id != after[0]:
                prev_hash = GENESIS_HASH
            own = _entry_hash(prev_hash, row.case_id, row.at, row.actor, row.kind, row.detail)
            updates.append({"row_id": row.id, "new_prev_hash": prev_hash, "new_hash": own})
            prev_hash = own
            after = (row.case_id, row.id)
        connection.execute(set_hashes, updates)


# Frozen copy of storage/audit.py's entry hash at this revision.
def _entry_hash(
    prev_hash: str, case_id: int, at: datetime, actor: str, kind: str, detail: Any
) -> str:
    moment = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    content = {
        "case_id": case_id,
        "at": moment.isoformat(timespec="microseconds"),
        "actor": actor,
        "kind": kind,
        "detail": _canonical(detail),
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256((prev_hash + text).encode("ascii")).hexdigest()


def _canonical(value: Any) -> Any:
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not JSON")
        exact = Decimal(repr(value))
        return int(exact) if exact == exact.to_integral_value() else value
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    raise TypeError(f"{type(value).__name__} is not JSON")
