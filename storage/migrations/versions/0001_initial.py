"""Initial schema: cases, reports, case timeline, processed deliveries, outbox.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in storage/tables.py at this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ENUM = sa.String(32)  # enums are stored as their string value


def _timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("output_key", sa.String(), nullable=False),
        sa.Column("system_id", sa.String(), nullable=False),
        sa.Column("category_id", sa.String(), nullable=False),
        sa.Column("severity", ENUM, nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("owner_role", ENUM, nullable=True),
        sa.Column("output_platform", sa.String(), nullable=True),
        sa.Column("output_channel_id", sa.String(), nullable=True),
        sa.Column("output_ts", sa.String(), nullable=True),
        sa.Column("output_author_bot_id", sa.String(), nullable=True),
        sa.Column("output_excerpt", sa.Text(), nullable=True),
        sa.Column("output_permalink", sa.Text(), nullable=True),
        sa.Column("trace_id", sa.String(), nullable=True),
        sa.Column("prompt_version", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("report_count", sa.Integer(), nullable=False),
        _timestamp("acknowledge_due_at", nullable=True),
        _timestamp("resolve_due_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("closed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("output_key", name="uq_cases_output_key"),
    )
    op.create_index("ix_cases_status", "cases", ["status"])
    op.create_index("ix_cases_system_id", "cases", ["system_id"])
    op.create_index("ix_cases_created_at", "cases", ["created_at"])

    op.create_table(
        "reports",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("reporter_id", sa.String(), nullable=False),
        sa.Column("reporter_slack_id", sa.String(), nullable=True),
        sa.Column("reporter_email", sa.String(), nullable=True),
        sa.Column("channel", ENUM, nullable=False),
        sa.Column("category_id", sa.String(), nullable=False),
        sa.Column("severity", ENUM, nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("expected", sa.Text(), nullable=True),
        sa.Column("trace_id", sa.String(), nullable=True),
        sa.Column("prompt_version", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_reports"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_reports_case_id_cases", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("case_id", "reporter_id", name="uq_reports_case_id_reporter_id"),
    )
    op.create_index("ix_reports_reporter_id_created_at", "reports", ["reporter_id", "created_at"])

    op.create_table(
        "case_timeline",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        _timestamp("at"),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_timeline"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_case_timeline_case_id_cases", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_case_timeline_case_id_at", "case_timeline", ["case_id", "at"])

    op.create_table(
        "processed_deliveries",
        sa.Column("key", sa.String(), nullable=False),
        _timestamp("seen_at"),
        sa.PrimaryKeyConstraint("key", name="pk_processed_deliveries"),
    )
    op.create_index("ix_processed_deliveries_seen_at", "processed_deliveries", ["seen_at"])

    op.create_table(
        "outbox",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _timestamp("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _timestamp("delivered_at", nullable=True),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
    )
    op.create_index(
        "ix_outbox_delivered_at_next_attempt_at", "outbox", ["delivered_at", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("processed_deliveries")
    op.drop_table("case_timeline")
    op.drop_table("reports")
    op.drop_table("cases")
