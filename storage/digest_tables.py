"""Rows the digest reads besides cases: reporters told, outputs served, charts served."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.table_types import HASH_LENGTH, Base, IdType


class ReporterToldRow(Base):
    """A reporter told how one closing of their case ended, written when the outcome notice
    is delivered (bot/core/reporters_told.py). A closing is all told when it has `owed` rows."""

    __tablename__ = "reporters_told"
    __table_args__ = (
        UniqueConstraint("case_id", "report_id", "closed_at", name="uq_reporters_told_case_id"),
        Index("ix_reporters_told_closed_at", "closed_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(IdType, ForeignKey("cases.id", ondelete="CASCADE"))
    report_id: Mapped[int] = mapped_column(IdType)
    closed_at: Mapped[datetime]
    owed: Mapped[int] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String)
    told_at: Mapped[datetime]


class OutputVolumeRow(Base):
    """Outputs an AI app served on one day (bot/core/volume.py); '' for no version or model."""

    __tablename__ = "output_volume"
    __table_args__ = (
        UniqueConstraint(
            "system_id", "prompt_version", "model", "day", name="uq_output_volume_system_id"
        ),
        Index("ix_output_volume_day", "day"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    system_id: Mapped[str] = mapped_column(String)
    prompt_version: Mapped[str] = mapped_column(String)
    model: Mapped[str] = mapped_column(String)
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(BigInteger)
    reported_at: Mapped[datetime]


class ChartImageRow(Base):
    """A digest chart served at GET /charts/<token>.png until it expires (Teams cards load it)."""

    __tablename__ = "chart_images"
    __table_args__ = (Index("ix_chart_images_expires_at", "expires_at"),)

    token_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), primary_key=True)
    """SHA-256 of the URL's token: a copy of the database does not hold working links."""
    png: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
