"""Indexes the weekly digest's time-window queries use.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_reports_created_at", "reports", ["created_at"])
    op.create_index("ix_case_timeline_at", "case_timeline", ["at"])
    op.create_index("ix_outbox_created_at", "outbox", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_created_at", table_name="outbox")
    op.drop_index("ix_case_timeline_at", table_name="case_timeline")
    op.drop_index("ix_reports_created_at", table_name="reports")
