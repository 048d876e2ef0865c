"""Reports keep what the AI was asked (`input`) and its whole flagged answer (`output`), so a
flagged case can be exported as an eval dataset (`loopkeeper export dataset`).

Both are text, capped by the core (bot/core/limits.py MAX_TEXT) before they are stored; reports
filed before this revision have neither (NULL).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("reports", sa.Column("input", sa.Text(), nullable=True))
    op.add_column("reports", sa.Column("output", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("output")
        batch.drop_column("input")
