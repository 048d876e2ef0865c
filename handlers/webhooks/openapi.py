"""The webhook deliveries in the OpenAPI document (3.1 `webhooks`): what a receiver is sent, for
each event type (bot/core/case_events.py builds them; docs/webhooks.md explains them).

tests/test_webhooks.py validates every event its receiver gets against these schemas, so the
document cannot drift from what is sent."""

from __future__ import annotations

from typing import Any

from bot.core.webhook_rules import EVENT_TYPES

_TEXT = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_PEOPLE = {"type": "array", "items": {"type": "string"}}

CASE_DATA: dict[str, Any] = {
    "type": "object",
    "required": [
        "case_number",
        "system",
        "category",
        "severity",
        "status",
        "previous_status",
        "owner",
        "owner_role",
        "actor",
        "reason",
        "note",
        "report_count",
        "trace_id",
        "prompt_version",
        "model",
        "opened_at",
        "acknowledge_due_at",
        "resolve_due_at",
        "links",
    ],
    "properties": {
        "case_number": {"type": "integer", "description": "the case's number (#12 in chat)"},
        "system": {"type": "string", "description": "system id from routing.yaml"},
        "category": {"type": "string", "description": "category id from routing.yaml"},
        "severity": {"enum": ["low", "medium", "high", "critical"]},
        "status": {
            "enum": ["new", "acknowledged", "needs_info", "resolved", "wont_fix", "duplicate"]
        },
        "previous_status": {
            "enum": [
                None,
                "new",
                "acknowledged",
                "needs_info",
                "resolved",
                "wont_fix",
                "duplicate",
            ],
            "description": "the status before a triage move; null for other events",
        },
        "owner": {**_TEXT, "description": "the routed owner, a person id from routing.yaml"},
        "owner_role": _TEXT,
        "actor": {
            **_TEXT,
            "description": "who made the change: a person id, a reporter id (slack:U…, "
            "teams:…, email:…) or loopkeeper (timers)",
        },
        "reason": {**_TEXT, "description": "a machine-readable reason (e.g. prompt_fixed)"},
        "note": {**_TEXT, "description": "free text as typed (at most 3,000 characters)"},
        "report_count": {"type": "integer"},
        "trace_id": _TEXT,
        "prompt_version": _TEXT,
        "model": _TEXT,
        "opened_at": _TIME,
        "acknowledge_due_at": _TIME,
        "resolve_due_at": _TIME,
        "links": {
            "type": "object",
            "required": ["output"],
            "properties": {"output": {**_TEXT, "description": "permalink of the flagged output"}},
        },
        "previous_owner": {**_TEXT, "description": "case.reassigned"},
        "duplicate_of": {"type": "integer", "description": "case.duplicate"},
        "step": {"type": "integer", "description": "case.escalated: the chain's step (0-based)"},
        "waited": {"type": "string", "description": "case.escalated: e.g. 4h"},
        "sla": {"enum": ["acknowledge", "resolve"], "description": "case.sla_breached"},
        "due_at": {**_TIME, "description": "case.sla_breached"},
        "notified": {**_PEOPLE, "description": "case.escalated, case.sla_breached"},
    },
    "additionalProperties": False,
}

DIGEST_DATA: dict[str, Any] = {
    "type": "object",
    "required": ["digest", "week", "systems", "channels", "late", "manual"],
    "properties": {
        "digest": {"type": "string", "description": "the digest's name in routing.yaml"},
        "week": {"type": "string", "pattern": r"^\d{4}-W\d{2}$"},
        "systems": {"anyOf": [{"const": "all"}, {"type": "array", "items": {"type": "string"}}]},
        "channels": {
            "type": "object",
            "properties": {"slack": {"type": "string"}, "teams": {"type": "string"}},
            "additionalProperties": False,
        },
        "late": {"type": "boolean", "description": "posted after its scheduled time"},
        "manual": {"type": "boolean", "description": "posted by `loopkeeper digest --post`"},
    },
    "additionalProperties": False,
}


def _event(types: list[str], data_ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "type", "created_at", "data"],
        "properties": {
            "id": {
                "type": "string",
                "pattern": "^evt_[0-9a-f]{32}$",
                "description": "stable across retries: dedupe by it",
            },
            "type": {"enum": types},
            "created_at": {"type": "string", "format": "date-time"},
            "data": {"$ref": f"#/components/schemas/{data_ref}"},
        },
        "additionalProperties": False,
    }


SCHEMAS: dict[str, Any] = {
    "CaseEvent": _event([t for t in EVENT_TYPES if t.startswith("case.")], "CaseEventData"),
    "CaseEventData": CASE_DATA,
    "DigestEvent": _event(["digest.posted"], "DigestEventData"),
    "DigestEventData": DIGEST_DATA,
}

_HEADERS = [
    ("X-Loopkeeper-Event-Id", "the event's id, the same on every retry"),
    ("X-Loopkeeper-Event-Type", "the event's type"),
    ("X-Loopkeeper-Timestamp", "unix seconds when this attempt was sent"),
    (
        "X-Loopkeeper-Signature",
        'v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the webhook\'s secret>',
    ),
]


def webhooks() -> dict[str, Any]:
    """The OpenAPI 3.1 `webhooks` object: one entry per event type."""
    found: dict[str, Any] = {}
    for event_type in EVENT_TYPES:
        schema = "DigestEvent" if event_type == "digest.posted" else "CaseEvent"
        found[event_type] = {
            "post": {
                "summary": f"{event_type}, POSTed to each webhook of routing.yaml that wants it",
                "description": "Retried with backoff (honouring Retry-After) until a 2xx, "
                "dead-lettered after the last attempt; see docs/webhooks.md.",
                "parameters": [
                    {
                        "name": name,
                        "in": "header",
                        "required": True,
                        "description": text,
                        "schema": {"type": "string"},
                    }
                    for name, text in _HEADERS
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
                    },
                },
                "responses": {
                    "2XX": {"description": "received; any other answer is retried or dead-lettered"}
                },
            }
        }
    return found
