"""Case events for webhooks: what happened to a case, as outbox messages queued in the same
transaction as the change itself (so an event is sent if and only if the change committed).

Each event has one id, made when it happens and kept across every retry and restart, so a
receiver dedupes by it. One outbox message per (event, webhook that wants it). The body is
serialised here, once, so every attempt sends the same bytes; the sender signs it at send time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from bot.core.limits import shortened
from bot.core.models import Case, CaseStatus, OutboundMessage
from bot.core.webhook_rules import Webhook

WEBHOOK = "webhook"
"""The outbox platform of webhook deliveries."""

NOTE_LIMIT = 3000
"""Characters of free text (a resolution note, a question) an event carries."""

ACTION_EVENTS = {
    "acknowledge": "case.acknowledged",
    "needs_info": "case.needs_info",
    "resolve": "case.resolved",
    "wont_fix": "case.wont_fix",
    "duplicate": "case.duplicate",
    "reassign": "case.reassigned",
}
"""Triage actions (bot/core/lifecycle.py `Action`) and the events they make (a reporter's
answer to a question is `case.acknowledged` too, with reason `reporter_answered`)."""


def case_event(
    webhooks: Sequence[Webhook],
    event_type: str,
    case: Case,
    now: datetime,
    *,
    actor: str | None,
    previous: CaseStatus | None = None,
    reason: str | None = None,
    note: str | None = None,
    extra: Mapping[str, object] | None = None,
) -> list[OutboundMessage]:
    """The outbox messages announcing `event_type` on `case` to the webhooks that want it."""
    wanting = [hook for hook in webhooks if hook.wants(event_type, [case.system_id])]
    if not wanting:
        return []
    data: dict[str, object] = {
        "case_number": case.id,
        "system": case.system_id,
        "category": case.category_id,
        "severity": case.severity.value,
        "status": case.status.value,
        "previous_status": previous.value if previous is not None else None,
        "owner": case.owner,
        "owner_role": case.owner_role.value if case.owner_role else None,
        "actor": actor,
        "reason": reason,
        "note": shortened(note, NOTE_LIMIT) if note else None,
        "report_count": case.report_count,
        "trace_id": case.trace_id,
        "prompt_version": case.prompt_version,
        "model": case.model,
        "opened_at": iso_z(case.opened_at),
        "acknowledge_due_at": iso_z(case.acknowledge_due_at),
        "resolve_due_at": iso_z(case.resolve_due_at),
        "links": {"output": case.output_permalink},
        **(extra or {}),
    }
    return _messages(wanting, event_type, data, now, lane=str(case.id))


def digest_event(
    webhooks: Sequence[Webhook],
    now: datetime,
    *,
    digest: str,
    week: str,
    systems: list[str] | None,
    channels: Mapping[str, str | None],
    late: bool = False,
    manual: bool = False,
) -> list[OutboundMessage]:
    """`digest.posted`: a digest was queued for its channels; `systems` None means all."""
    wanting = [hook for hook in webhooks if hook.wants("digest.posted", systems)]
    data: dict[str, object] = {
        "digest": digest,
        "week": week,
        "systems": systems if systems is not None else "all",
        "channels": {platform: channel for platform, channel in channels.items() if channel},
        "late": late,
        "manual": manual,
    }
    return _messages(wanting, "digest.posted", data, now, lane=f"digest:{digest}")


def _messages(
    webhooks: Sequence[Webhook],
    event_type: str,
    data: Mapping[str, object],
    now: datetime,
    lane: str,
) -> list[OutboundMessage]:
    if not webhooks:
        return []
    event_id = f"evt_{uuid.uuid4().hex}"
    body = json.dumps(
        {"id": event_id, "type": event_type, "created_at": iso_z(now), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return [
        OutboundMessage(
            dedupe_key=f"{WEBHOOK}:{event_id}:{hook.key}",
            platform=WEBHOOK,
            method=event_type,  # always POSTed; this names it in `loopkeeper outbox` and logs
            # Events of one case reach one receiver in the order they happened.
            payload={
                "url": hook.url,
                "lane": f"{WEBHOOK}:{hook.key}:{lane}",
                "event_id": event_id,
                "type": event_type,
                "body": body,
            },
            next_attempt_at=now,
        )
        for hook in webhooks
    ]


def iso_z(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # stored UTC without its zone
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
