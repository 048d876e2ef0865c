"""Claiming the outbox by platform: chat messages and webhook deliveries go out in separate
loops, so a receiver that hangs or is down never holds up a Slack or Teams message."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, select

from bot.core.ports import Platforms
from storage.statements import OUTBOX, OUTBOX_STAMP, claim


@functools.cache
def claims_for(dialect: str, platforms: Platforms) -> Any:
    """The claim of the outbox's messages for `platforms`: `outbox_claim` of
    storage/statements.py with the platform chosen, built once per dialect and choice."""
    names = sorted(platforms.names)
    chosen = OUTBOX.c.platform.not_in(names) if platforms.others else OUTBOX.c.platform.in_(names)
    due = (
        select(OUTBOX.c.id)
        .where(
            OUTBOX.c.delivered_at.is_(None),
            OUTBOX.c.dead_at.is_(None),
            OUTBOX.c.next_attempt_at <= bindparam("now"),
            chosen,
        )
        .order_by(OUTBOX.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
    return claim(OUTBOX, due, OUTBOX_STAMP)
