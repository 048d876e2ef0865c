"""Teams: where each case's Adaptive Card was posted, conversation references, Teams users.

The card's location has its own table rather than columns on `cases`: saving a case never
touches it, so a triage save racing the card's post cannot wipe it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "teams_cards",
        sa.Column("case_id", ID, nullable=False),
        sa.Column("conversation_id", sa.String(), nullable=False),
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_teams_cards_case_id_cases", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", name="pk_teams_cards"),
        sa.UniqueConstraint(
            "conversation_id", "activity_id", name="uq_teams_cards_conversation_id_activity_id"
        ),
    )
    op.create_table(
        "teams_conversations",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("service_url", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=True),
        sa.Column("bot_id", sa.String(), nullable=True),
        sa.Column("bot_name", sa.String(), nullable=True),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("team_id", sa.String(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_teams_conversations"),
    )
    op.create_index("ix_teams_conversations_user_id", "teams_conversations", ["user_id"])
    op.create_index("ix_teams_conversations_updated_at", "teams_conversations", ["updated_at"])
    op.create_table(
        "teams_users",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("aad_object_id", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("service_url", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=True),
        sa.Column("bot_id", sa.String(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_teams_users"),
    )
    op.create_index("ix_teams_users_user_id", "teams_users", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_teams_users_user_id", table_name="teams_users")
    op.drop_table("teams_users")
    op.drop_index("ix_teams_conversations_updated_at", table_name="teams_conversations")
    op.drop_index("ix_teams_conversations_user_id", table_name="teams_conversations")
    op.drop_table("teams_conversations")
    op.drop_table("teams_cards")
