"""The port a platform implements to publish a digest: the digest in, its outbox messages out.

Its own module so that an edge implementing it does not import the job (and through the job,
the queries behind it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.core.models import OutboundMessage
from bot.core.routing_rules import Digest
from digests.model import WeeklyDigest


class Publisher(Protocol):
    def __call__(
        self,
        digest: Digest,
        weekly: WeeklyDigest,
        *,
        key: str,
        note: str | None,
        now: datetime,
        chart_url: str | None = None,
    ) -> Sequence[OutboundMessage]:
        """The outbox messages that publish one digest on one platform; `chart_url`, where
        the bot serves the digest's chart (digests/chart_links.py), for cards that link it."""
        ...
