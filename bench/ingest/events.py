"""The workload: `reaction_added` events on AI messages, planned up front and signed like Slack."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SIGNING_SECRET = "bench-signing-secret-0123456789"
ROUTING_FILE = Path(__file__).resolve().parents[2] / "tests" / "data" / "routing.yaml"

CHANNEL = "C0SUPPORT"
"""A channel routing.yaml maps to the Support Assistant."""
AI_BOT_ID = "B0SUPPORT"
"""The Support Assistant's bot: the poster of every seeded message."""
AI_TEXT = "Our refund window is 90 days for all products."
REACTIONS = ("x", "warning", "x", "rotating_light", "x", "x", "warning")
"""Mapped emoji, mostly :x: (hallucination); 7 long so it does not line up with the repeats."""


@dataclass(frozen=True)
class PlannedEvent:
    event_id: str
    user: str
    channel: str
    ts: str
    reaction: str


@dataclass(frozen=True)
class Plan:
    """N events by N distinct users; every `1/repeat_share`-th one flags an earlier message."""

    tag: str
    events: tuple[PlannedEvent, ...]
    messages: tuple[str, ...]

    @property
    def users(self) -> frozenset[str]:
        return frozenset(event.user for event in self.events)

    @property
    def repeats(self) -> int:
        return len(self.events) - len(self.messages)


def make_plan(tag: str, n: int, *, repeat_share: float = 0.2, second: int = 1_700_000_000) -> Plan:
    """Plan `n` events; `tag` keeps ids, users and message timestamps apart between plans."""
    if not tag.isalnum() or not tag.isupper():
        raise ValueError("tag must be upper-case letters and digits (it goes into Slack ids)")
    every = round(1 / repeat_share) if repeat_share > 0 else 0
    messages: list[str] = []
    events: list[PlannedEvent] = []
    for i in range(n):
        if every and i % every == every - 1 and messages:
            # A message flagged a little while ago (not the one just before, usually still in
            # flight): a second reporter joins its case.
            pool = max(1, len(messages) - 8)
            ts = messages[(i * 7919) % pool]
        else:
            ts = f"{second}.{len(messages):06d}"
            messages.append(ts)
        events.append(
            PlannedEvent(
                event_id=f"Ev{tag}{i:08d}",
                user=f"U{tag}{i:07d}",
                channel=CHANNEL,
                ts=ts,
                reaction=REACTIONS[i % len(REACTIONS)],
            )
        )
    return Plan(tag=tag, events=tuple(events), messages=tuple(messages))


def ai_message(ts: str) -> dict[str, Any]:
    """The message the AI bot posted at `ts`, as conversations.history returns it."""
    return {"type": "message", "ts": ts, "text": AI_TEXT, "bot_id": AI_BOT_ID, "user": "U0AIBOT"}


def slack_signature(body: bytes, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    """What Slack puts in X-Slack-Signature: v0=HMAC-SHA256(secret, 'v0:ts:body')."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SignedRequest:
    body: bytes
    headers: dict[str, str]


def signed_request(event: PlannedEvent, now: float | None = None) -> SignedRequest:
    """The Events API request Slack would send for `event`, body and signature built now."""
    now = time.time() if now is None else now
    envelope = {
        "token": "legacy-unused",
        "team_id": "T0ACME",
        "api_app_id": "A0LOOPKEEPER",
        "event": {
            "type": "reaction_added",
            "user": event.user,
            "reaction": event.reaction,
            "item": {"type": "message", "channel": event.channel, "ts": event.ts},
            "item_user": "U0AIBOT",
            "event_ts": f"{now:.6f}",
        },
        "type": "event_callback",
        "event_id": event.event_id,
        "event_time": int(now),
        "authorizations": [{"team_id": "T0ACME", "user_id": "U0LOOPKEEPER", "is_bot": True}],
    }
    body = json.dumps(envelope).encode()
    timestamp = int(now)
    return SignedRequest(
        body=body,
        headers={
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": slack_signature(body, timestamp, SIGNING_SECRET),
        },
    )
