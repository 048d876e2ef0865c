"""Surges: many new cases on one system at once, announced as one card."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.table_types import ENUM_LENGTH, Base, IdType


class SurgeRow(Base):
    """Many new cases on one system at once, announced as one card (0015).

    `active_system` is the system id while the surge lasts and NULL once it ended: unique, so
    replicas racing to open a system's surge open one (NULLs never collide)."""

    __tablename__ = "surges"
    __table_args__ = (Index("ix_surges_first_seen_at", "first_seen_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    system_id: Mapped[str] = mapped_column(String)
    active_system: Mapped[str | None] = mapped_column(String, unique=True)
    first_seen_at: Mapped[datetime]
    opened_at: Mapped[datetime]
    last_case_at: Mapped[datetime]
    case_count: Mapped[int] = mapped_column(Integer)
    ended_at: Mapped[datetime | None]


class SurgeCaseRow(Base):
    """A case of a surge; `folded`: announced only by the surge card (0015)."""

    __tablename__ = "surge_cases"
    __table_args__ = (Index("ix_surge_cases_case_id", "case_id"),)

    surge_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("surges.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    folded: Mapped[bool] = mapped_column(Boolean)


class SurgeCardRow(Base):
    """Where a surge's card was posted, one per (surge, platform) (0015)."""

    __tablename__ = "surge_cards"

    surge_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("surges.id", ondelete="CASCADE"), primary_key=True
    )
    platform: Mapped[str] = mapped_column(String(ENUM_LENGTH), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String)
    message_id: Mapped[str] = mapped_column(String)
