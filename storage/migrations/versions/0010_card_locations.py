"""Card locations: one table for where each case's card was posted, on every platform.

Until now a Slack card lived in two columns of `cases` (slack_card_channel, slack_card_ts) and
a Teams card in a table of its own (teams_cards). Both move to `card_locations`, one row per
(case, platform) naming the conversation and the message, and the old columns and table go.

A Slack card had no posting time: its case's creation time stands in for it (the card is
posted when the case opens).

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "card_locations",
        sa.Column("case_id", ID, nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("conversation_id", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_card_locations_case_id_cases", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", "platform", name="pk_card_locations"),
        sa.UniqueConstraint(
            "platform",
            "conversation_id",
            "message_id",
            name="uq_card_locations_platform_conversation_id_message_id",
        ),
    )
    op.execute(
        "INSERT INTO card_locations (case_id, platform, conversation_id, message_id, posted_at) "
        "SELECT id, 'slack', slack_card_channel, slack_card_ts, created_at FROM cases "
        "WHERE slack_card_channel IS NOT NULL AND slack_card_ts IS NOT NULL"
    )
    op.execute(
        "INSERT INTO card_locations (case_id, platform, conversation_id, message_id, posted_at) "
        "SELECT case_id, 'teams', conversation_id, activity_id, posted_at FROM teams_cards"
    )
    op.drop_table("teams_cards")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("slack_card_ts")
        batch.drop_column("slack_card_channel")


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("slack_card_channel", sa.String(), nullable=True))
        batch.add_column(sa.Column("slack_card_ts", sa.String(), nullable=True))
    slack = (
        "SELECT {column} FROM card_locations "
        "WHERE card_locations.case_id = cases.id AND card_locations.platform = 'slack'"
    )
    op.execute(
        f"UPDATE cases SET slack_card_channel = ({slack.format(column='conversation_id')}), "
        f"slack_card_ts = ({slack.format(column='message_id')})"
    )
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
    op.execute(
        "INSERT INTO teams_cards (case_id, conversation_id, activity_id, posted_at) "
        "SELECT case_id, conversation_id, message_id, posted_at FROM card_locations "
        "WHERE platform = 'teams'"
    )
    op.drop_table("card_locations")
