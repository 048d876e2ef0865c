"""Output volume: how many outputs an AI app served per system, prompt version, model and day,
so the digest can give flag rates per 1,000 outputs (`POST /api/v1/volume`).

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "output_volume",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("system_id", sa.String(), nullable=False),
        sa.Column("prompt_version", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_output_volume"),
        sa.UniqueConstraint(
            "system_id", "prompt_version", "model", "day", name="uq_output_volume_system_id"
        ),
    )
    op.create_index("ix_output_volume_day", "output_volume", ["day"])


def downgrade() -> None:
    op.drop_index("ix_output_volume_day", table_name="output_volume")
    op.drop_table("output_volume")
