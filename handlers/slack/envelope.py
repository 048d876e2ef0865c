"""Socket Mode envelopes as Slack sends them, read without trusting a single field.

Over Socket Mode nothing signs a message: whatever arrives on the socket is read here first, so
a malformed envelope becomes a one-line problem (and an ack), never an exception in a listener.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.core.limits import check_id

_ENVELOPE_ID = re.compile(r'"envelope_id"\s*:\s*"([A-Za-z0-9._:-]{1,255})"')

KINDS = frozenset({"events_api", "interactive", "slash_commands"})
"""The envelope types that carry work; `hello` and `disconnect` are about the connection."""


@dataclass(frozen=True)
class Envelope:
    id: str
    kind: str
    payload: dict[str, Any]
    retry_attempt: int | None = None
    retry_reason: str | None = None


class Malformed(ValueError):
    """An envelope the bot acks and drops: `problem` says why, in one line."""

    def __init__(self, envelope_id: str, problem: str) -> None:
        super().__init__(problem)
        self.envelope_id = envelope_id
        self.problem = problem


def decode(raw: str | bytes) -> dict[str, Any] | None:
    """The message as a JSON object, or None when it is anything else (or too deep to read)."""
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return message if isinstance(message, dict) else None


def envelope_id(message: dict[str, Any]) -> str | None:
    """The id to ack the message with; None when it has no usable one (nothing can be acked)."""
    value = message.get("envelope_id")
    if not isinstance(value, str) or not value:
        return None
    try:
        return check_id(value)
    except ValueError:
        return None


def envelope_id_in(raw: str | bytes) -> str | None:
    """The envelope id an unreadable message names (JSON too deep, a number with thousands of
    digits): acking it keeps Slack from redelivering what the bot can never read."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    found = _ENVELOPE_ID.search(text)
    return found.group(1) if found else None


def read(message: dict[str, Any], eid: str) -> Envelope:
    """The envelope `eid`, or Malformed naming what is wrong with it."""
    kind, payload = message.get("type"), message.get("payload")
    if kind not in KINDS:
        raise Malformed(eid, f"unknown envelope type {brief(kind)}")
    if not isinstance(payload, dict):
        raise Malformed(eid, f"{kind} payload is {_kind_of(payload)}, not an object")
    retry, reason = message.get("retry_attempt"), message.get("retry_reason")
    return Envelope(
        id=eid,
        kind=kind,
        payload=payload,
        # bool is an int too; neither field decides anything, so a bad one is simply dropped.
        retry_attempt=retry if isinstance(retry, int) and not isinstance(retry, bool) else None,
        retry_reason=reason if isinstance(reason, str) and len(reason) <= 100 else None,
    )


def reaction(envelope: Envelope) -> tuple[dict[str, Any], str] | None:
    """(event, event_id) when the envelope is a reaction_added event; None when it is not one.

    Raises Malformed when it claims to be one but lacks an id a listener uses: it is checked
    here, before it is stored, so a 100 kB user id never becomes an inbox row.
    """
    payload = envelope.payload
    event = payload.get("event")
    if envelope.kind != "events_api" or payload.get("type") != "event_callback":
        return None
    if not isinstance(event, dict):
        raise Malformed(envelope.id, f"event_callback event is {_kind_of(event)}, not an object")
    if event.get("type") != "reaction_added":
        return None
    item = event.get("item")
    if not isinstance(item, dict):
        raise Malformed(envelope.id, f"reaction item is {_kind_of(item)}, not an object")
    event_id = payload.get("event_id") or event.get("event_ts")
    ids = {
        "event_id": event_id,
        "user": event.get("user"),
        "reaction": event.get("reaction"),
        "item.type": item.get("type"),
    }
    if item.get("type") == "message":
        ids.update({"item.channel": item.get("channel"), "item.ts": item.get("ts")})
    for name, value in ids.items():
        if not isinstance(value, str) or not value:
            raise Malformed(envelope.id, f"reaction {name} is {_kind_of(value)}, not an id")
        try:
            check_id(value)
        except ValueError as error:
            raise Malformed(envelope.id, f"reaction {name} {error}") from None
    return event, str(event_id)


def _kind_of(value: object) -> str:
    if value is None:
        return "missing"
    if isinstance(value, str) and not value:
        return "empty"
    name = {"str": "string", "int": "number", "float": "number", "bool": "boolean"}.get(
        type(value).__name__, type(value).__name__
    )
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def brief(value: object) -> str:
    """A value from outside, safe to put in a log line: short, one line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
