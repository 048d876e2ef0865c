"""Digest runs: one row per (digest, ISO week), so each digest is posted exactly once.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-21 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "digest_runs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_digest_runs"),
        sa.UniqueConstraint("digest", "week", name="uq_digest_runs_digest_week"),
    )


def downgrade() -> None:
    op.drop_table("digest_runs")
