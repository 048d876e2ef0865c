"""Surges: many new cases on one system at once, announced as one card.

Revision ID: 0015
Revises: 0012 (in this branch; the lead re-chains)
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "surges",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("system_id", sa.String(), nullable=False),
        sa.Column("active_system", sa.String(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_case_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_count", sa.Integer(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_surges"),
        sa.UniqueConstraint("active_system", name="uq_surges_active_system"),
    )
    op.create_index("ix_surges_first_seen_at", "surges", ["first_seen_at"])
    op.create_table(
        "surge_cases",
        sa.Column("surge_id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("folded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("surge_id", "case_id", name="pk_surge_cases"),
        sa.ForeignKeyConstraint(
            ["surge_id"], ["surges.id"], name="fk_surge_cases_surge_id_surges", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_surge_cases_case_id_cases", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_surge_cases_case_id", "surge_cases", ["case_id"])
    op.create_table(
        "surge_cards",
        sa.Column("surge_id", ID, nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("surge_id", "platform", name="pk_surge_cards"),
        sa.ForeignKeyConstraint(
            ["surge_id"], ["surges.id"], name="fk_surge_cards_surge_id_surges", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("surge_cards")
    op.drop_index("ix_surge_cases_case_id", table_name="surge_cases")
    op.drop_table("surge_cases")
    op.drop_index("ix_surges_first_seen_at", table_name="surges")
    op.drop_table("surges")
