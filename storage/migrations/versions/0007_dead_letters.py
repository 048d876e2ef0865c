"""Dead letters: outbox messages and inbox items that are no longer retried.

A message Slack refuses for good, or one that failed its last attempt, gets `dead_at` instead
of being retried for ever; so does an inbound flag that cannot be filed. Both stay in their
table, with their last error, until an operator sends them again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns: SQLite adds them in place, no table rebuild.
    op.add_column("outbox", sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("inbox", sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("dead_at")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("dead_at")
