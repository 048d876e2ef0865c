"""The database schema: SQLAlchemy 2 typed tables. Rows never leave storage/.

The digest's receipts are in storage/digest_tables.py and surges in storage/surge_tables.py;
importing this module registers them all on `Base.metadata` (migrations compare against it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.models import CaseStatus, Channel, Role, Severity, TimerKind
from storage.table_types import ENUM_LENGTH, HASH_LENGTH, Base, IdType, enum_column


class CaseRow(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status", "status"),
        Index("ix_cases_system_id", "system_id"),
        Index("ix_cases_created_at", "created_at"),
        # The digest's week: cases still open or closed since (backlog), acknowledged or
        # closed during it (response times), found without reading the older history.
        Index("ix_cases_closed_at", "closed_at"),
        Index("ix_cases_acknowledged_at", "acknowledged_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    output_key: Mapped[str] = mapped_column(String, unique=True)
    system_id: Mapped[str] = mapped_column(String)
    category_id: Mapped[str] = mapped_column(String)
    severity: Mapped[Severity] = mapped_column(enum_column(Severity))
    status: Mapped[CaseStatus] = mapped_column(enum_column(CaseStatus))
    owner: Mapped[str | None] = mapped_column(String)
    owner_role: Mapped[Role | None] = mapped_column(enum_column(Role))
    output_platform: Mapped[str | None] = mapped_column(String)
    output_channel_id: Mapped[str | None] = mapped_column(String)
    output_ts: Mapped[str | None] = mapped_column(String)
    output_author_bot_id: Mapped[str | None] = mapped_column(String)
    output_excerpt: Mapped[str | None] = mapped_column(Text)
    output_permalink: Mapped[str | None] = mapped_column(Text)
    trace_id: Mapped[str | None] = mapped_column(String)
    prompt_version: Mapped[str | None] = mapped_column(String)
    model: Mapped[str | None] = mapped_column(String)
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    acknowledge_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    reopened_at: Mapped[datetime | None]


class ReportRow(Base):
    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("case_id", "reporter_id", name="uq_reports_case_id_reporter_id"),
        Index("ix_reports_reporter_id_created_at", "reporter_id", "created_at"),
        Index("ix_reports_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(IdType, ForeignKey("cases.id", ondelete="CASCADE"))
    reporter_id: Mapped[str] = mapped_column(String)
    reporter_slack_id: Mapped[str | None] = mapped_column(String)
    reporter_email: Mapped[str | None] = mapped_column(String)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    category_id: Mapped[str] = mapped_column(String)
    severity: Mapped[Severity] = mapped_column(enum_column(Severity))
    comment: Mapped[str | None] = mapped_column(Text)
    expected: Mapped[str | None] = mapped_column(Text)
    # What the AI was asked, and its whole answer (0009): an eval dataset's input and output.
    input: Mapped[str | None] = mapped_column(Text)
    output: Mapped[str | None] = mapped_column(Text)
    trace_id: Mapped[str | None] = mapped_column(String)
    prompt_version: Mapped[str | None] = mapped_column(String)
    model: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TimelineRow(Base):
    """One event in a case's history: append-only and hash-chained per case (storage/audit.py).

    The database refuses UPDATE and DELETE on this table (triggers, migration 0003), so deleting
    a case that has a timeline is refused too. A SQLite batch migration that recreates this
    table drops those triggers: such a migration must create them again.
    """

    __tablename__ = "case_timeline"
    __table_args__ = (
        Index("ix_case_timeline_case_id_at", "case_id", "at"),
        Index("ix_case_timeline_case_id_id", "case_id", "id"),
        Index("ix_case_timeline_at", "at"),
        # A chain never forks: one successor per entry (and one first entry) per case.
        UniqueConstraint("case_id", "prev_hash", name="uq_case_timeline_case_id_prev_hash"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(IdType, ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    detail: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    hash: Mapped[str] = mapped_column(String(HASH_LENGTH))


class ProcessedDeliveryRow(Base):
    """A platform delivery (Slack event_id, action id) already handled: retries are dropped."""

    __tablename__ = "processed_deliveries"
    __table_args__ = (Index("ix_processed_deliveries_seen_at", "seen_at"),)

    key: Mapped[str] = mapped_column(String, primary_key=True)
    seen_at: Mapped[datetime]


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_delivered_at_next_attempt_at", "delivered_at", "next_attempt_at"),
        Index("ix_outbox_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String, unique=True)
    platform: Mapped[str] = mapped_column(String)
    method: Mapped[str] = mapped_column(String)
    payload: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    dead_at: Mapped[datetime | None]
    """When it was given up on (a permanent failure or its last attempt); an operator may
    send it again (`loopkeeper outbox retry`)."""
    paced_slot: Mapped[datetime | None]
    """The send slot it holds in its destination's budget (bot/core/pacing.py): due then, it
    goes without spending again, whichever replica claims it. Cleared when it fails."""


class DirectoryRow(Base):
    """A person's chat-platform user id, as looked up by e-mail (cached; None = not found)."""

    __tablename__ = "directory"

    person_id: Mapped[str] = mapped_column(String, primary_key=True)
    platform: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String)
    looked_up_at: Mapped[datetime]


class TimerRow(Base):
    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_fired_at_due_at", "fired_at", "due_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String, unique=True)
    case_id: Mapped[int] = mapped_column(IdType, ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[TimerKind] = mapped_column(enum_column(TimerKind))
    step: Mapped[int] = mapped_column(Integer, default=0)
    # The escalation step's target, snapshotted when the chain was planned (0008).
    notify: Mapped[str | None] = mapped_column(String)
    due_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    fired_at: Mapped[datetime | None]


class DigestRunRow(Base):
    """One digest for one ISO week: created when due, claimed under a lease, posted once."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("digest", "week", name="uq_digest_runs_digest_week"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String)
    week: Mapped[str] = mapped_column(String(8))
    due_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    posted_at: Mapped[datetime | None]
    late: Mapped[bool] = mapped_column(Boolean, default=False)


class CardLocationRow(Base):
    """Where a case's card was posted, one per (case, platform) (0010).

    Not columns on `cases`: saving a case never touches it, so a triage save racing the card's
    post cannot wipe it.
    """

    __tablename__ = "card_locations"
    __table_args__ = (
        UniqueConstraint(
            "platform",
            "conversation_id",
            "message_id",
            name="uq_card_locations_platform_conversation_id_message_id",
        ),
    )

    case_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    platform: Mapped[str] = mapped_column(String(ENUM_LENGTH), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String)
    message_id: Mapped[str] = mapped_column(String)
    posted_at: Mapped[datetime]


class TeamsConversationRow(Base):
    """A Teams conversation reference: where (service URL, tenant) the bot can post."""

    __tablename__ = "teams_conversations"
    __table_args__ = (
        Index("ix_teams_conversations_user_id", "user_id"),
        Index("ix_teams_conversations_updated_at", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    kind: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    service_url: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[str | None] = mapped_column(String)
    bot_id: Mapped[str | None] = mapped_column(String)
    bot_name: Mapped[str | None] = mapped_column(String)
    user_id: Mapped[str | None] = mapped_column(String)
    team_id: Mapped[str | None] = mapped_column(String)
    updated_at: Mapped[datetime]


class TeamsUserRow(Base):
    """A Teams user the bot has heard from (key: aadObjectId, else the Teams user id)."""

    __tablename__ = "teams_users"
    __table_args__ = (Index("ix_teams_users_user_id", "user_id"),)

    key: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[str] = mapped_column(String)
    aad_object_id: Mapped[str | None] = mapped_column(String)
    name: Mapped[str | None] = mapped_column(String)
    email: Mapped[str | None] = mapped_column(String)
    service_url: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[str | None] = mapped_column(String)
    bot_id: Mapped[str | None] = mapped_column(String)
    updated_at: Mapped[datetime]


class InboxRow(Base):
    """A raw inbound flag, committed before the platform is acknowledged, then processed."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_processed_at_id", "processed_at", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String, unique=True)
    kind: Mapped[str] = mapped_column(String)
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    dead_at: Mapped[datetime | None]
    """When filing it was given up on; `loopkeeper inbox retry` files it again."""


class SendBudgetRow(Base):
    """One destination's sending budget, shared by every replica (bot/core/pacing.py): `tat`
    is the GCRA's theoretical arrival time, in Unix seconds."""

    __tablename__ = "send_budgets"

    destination: Mapped[str] = mapped_column(String, primary_key=True)
    tat: Mapped[float] = mapped_column(Double)


# Registered on Base.metadata with the rest: Alembic and the schema checks see every table.
from storage import digest_tables as digest_tables  # noqa: E402
from storage import surge_tables as surge_tables  # noqa: E402
