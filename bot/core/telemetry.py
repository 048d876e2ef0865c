"""What the core tells an operator's metrics: events as they happen, through a port.

The core only says what happened; an edge (handlers/metrics.py) counts it. Calls are made after
the transaction that did the thing commits, so a retried transaction is not counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.core.models import Channel, Severity


@dataclass(frozen=True)
class Health:
    """What only the database knows, read at each scrape (storage/health.py)."""

    oldest_outbox: datetime | None  # when the oldest message still tried was queued
    oldest_inbox: datetime | None  # when the oldest item still tried was received
    open_cases: dict[Severity, int]
    sla_breaches: int  # open cases past their acknowledge or resolve deadline


class Events(Protocol):
    def flag_received(self, path: str, platform: str) -> None:
        """A flag reached filing by `path` (reaction, shortcut, command, feedback_button, api,
        teams) from `platform` (slack, teams, api)."""
        ...

    def report_filed(self) -> None:
        """A report was added to a case (a reporter's second flag of one output updates it)."""
        ...

    def case_opened(self, severity: str) -> None:
        """A case was opened or reopened."""
        ...

    def case_closed(self, status: str) -> None:
        """A case was resolved, closed as won't fix or merged as a duplicate."""
        ...

    def notice_delivered(self, platform: str) -> None: ...

    def notice_failed(self, platform: str, dead: bool) -> None:
        """A delivery attempt failed; `dead` when the message was given up on."""
        ...

    def card_posted(self, platform: str, seconds: float) -> None:
        """An opening card went out, `seconds` after the flag that opened its case."""
        ...

    def timer_fired(self, kind: str) -> None: ...

    def digest_posted(self, platform: str) -> None: ...


class NoEvents:
    """Counts nothing: the default, so the core and its tests run without metrics."""

    def flag_received(self, path: str, platform: str) -> None:
        pass

    def report_filed(self) -> None:
        pass

    def case_opened(self, severity: str) -> None:
        pass

    def case_closed(self, status: str) -> None:
        pass

    def notice_delivered(self, platform: str) -> None:
        pass

    def notice_failed(self, platform: str, dead: bool) -> None:
        pass

    def card_posted(self, platform: str, seconds: float) -> None:
        pass

    def timer_fired(self, kind: str) -> None:
        pass

    def digest_posted(self, platform: str) -> None:
        pass


NO_EVENTS: Events = NoEvents()

FLAGGED_AT = "flagged_at"
"""Payload key of an opening card message: when its case was opened (ISO 8601), so delivery
can tell how long the flag took to reach the triage channel."""


def intake_path(channel: Channel) -> tuple[str, str]:
    """(path, platform) of a report's channel, as the flag counter labels it."""
    platform, _, path = channel.value.partition("_")
    return (path, platform) if path else (channel.value, channel.value)
