"""Chart images: the digest's chart, served to Teams at an unguessable, expiring URL; and the
indexes that keep the digest's cost to the size of its week (cases by closed_at and by
acknowledged_at), not of the whole history.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chart_images",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_chart_images"),
    )
    op.create_index("ix_chart_images_expires_at", "chart_images", ["expires_at"])
    op.create_index("ix_cases_closed_at", "cases", ["closed_at"])
    op.create_index("ix_cases_acknowledged_at", "cases", ["acknowledged_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_acknowledged_at", table_name="cases")
    op.drop_index("ix_cases_closed_at", table_name="cases")
    op.drop_index("ix_chart_images_expires_at", table_name="chart_images")
    op.drop_table("chart_images")
