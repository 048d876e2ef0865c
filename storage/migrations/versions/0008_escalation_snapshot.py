"""Escalation chains snapshotted on their timers: each escalation timer keeps the target its
step named when the case opened, so editing routing.yaml changes new cases, not running chains.

Timers planned before this revision have no target (NULL) and fire from the current routing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("timers", sa.Column("notify", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("timers") as batch:
        batch.drop_column("notify")
