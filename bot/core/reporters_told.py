"""Loop closure: which reporters were told how their case ended, recorded as it happens.

When a case closes, triage queues one outcome notice per reporter and stamps each with a
`ReporterTold` receipt (in its payload, so the stamp travels with the queued message). When the
outbox delivers a stamped message it hands the receipt to `ReporterReceipts`, which records it.
The digest counts loop closure from those records: a closing is "all told" when as many of its
reporters were told as notices were owed. Nothing has to read the outbox's keys to find out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.core.models import OutboundMessage

RECEIPT = "reporter_told"
"""The payload key an outcome notice carries its receipt under."""


class ReporterTold(BaseModel):
    """One reporter told how one closing of their case ended."""

    model_config = ConfigDict(frozen=True)

    case_id: int
    report_id: int
    closed_at: datetime
    owed: int
    """How many reporters that closing owed a notice: all told when this many were."""
    platform: str


class ReporterReceipts(Protocol):
    async def reporters_told(self, told: Sequence[ReporterTold], at: datetime) -> None:
        """Record that these reporters were told, at `at`; recording one twice is harmless."""
        ...


def stamped(message: OutboundMessage, told: ReporterTold) -> OutboundMessage:
    """`message` carrying `told`, to be recorded when it is delivered."""
    payload = {**message.payload, RECEIPT: told.model_dump(mode="json")}
    return message.model_copy(update={"payload": payload})


def receipt_of(message: OutboundMessage) -> ReporterTold | None:
    """The receipt a delivered message carries, if it is an outcome notice."""
    raw = message.payload.get(RECEIPT)
    if raw is None:
        return None
    try:
        return ReporterTold.model_validate(raw)
    except ValidationError:  # a row edited by hand must not stop delivery
        return None
