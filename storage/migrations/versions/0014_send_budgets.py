"""Send budgets: each destination's pacing budget, shared by replicas (bot/core/pacing.py),
and the slot an outbox message holds in one.

Revision ID: 0014
Revises: 0012 (in this branch; the lead re-chains)
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "send_budgets",
        sa.Column("destination", sa.String(), nullable=False),
        sa.Column("tat", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("destination", name="pk_send_budgets"),
    )
    op.add_column("outbox", sa.Column("paced_slot", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as outbox:
        outbox.drop_column("paced_slot")
    op.drop_table("send_budgets")
