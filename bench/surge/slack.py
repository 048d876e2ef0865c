"""The realistic fake Slack: every call 50-150 ms, Slack's rate limits answered with 429 and
Retry-After (tests/support/rate_limits.py), and every message that got through noted with
when it arrived, so the benchmark can say what the triage channel and the owner saw and when."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.honest.outside import CardStampingSlack, SlackHost
from tests.support.rate_limits import Latency, SlackLimits


@dataclass(frozen=True)
class Delivered:
    """A message Slack took: when it arrived (time.monotonic, one clock for the machine)."""

    at: float
    method: str
    """chat.postMessage, chat.update or chat.postEphemeral."""
    channel: str
    user: str
    """Whom an ephemeral message was for; "" otherwise."""
    text: str
    threaded: bool


@dataclass(frozen=True)
class SlackLog:
    """What the fake saw in one phase."""

    delivered: list[Delivered]
    calls: dict[str, int]
    """Calls per method, answered or refused."""
    throttled: dict[str, int]
    """Calls per method answered 429 by the limits."""


class RecordingSlack(CardStampingSlack):
    def __init__(self) -> None:
        super().__init__()
        self.limits = SlackLimits()
        self.method_latency = Latency()
        self.delivered: list[Delivered] = []

    def _note(self, method: str, args: dict[str, Any]) -> None:
        self.delivered.append(
            Delivered(
                at=time.monotonic(),
                method=method,
                channel=str(args.get("channel") or ""),
                user=str(args.get("user") or "") if method == "chat.postEphemeral" else "",
                text=str(args.get("text") or ""),
                threaded=bool(args.get("thread_ts")),
            )
        )

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        self._note("chat.postMessage", args)
        return super()._chat_postMessage(args)

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        self._note("chat.update", args)
        return super()._chat_update(args)

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        self._note("chat.postEphemeral", args)
        return super()._chat_postEphemeral(args)


class RealisticSlackHost(SlackHost):
    """bench.honest's fake Slack host, limited and slowed like Slack."""

    def __init__(self) -> None:
        self.fake = RecordingSlack()

    async def log(self) -> SlackLog:
        fake = self.fake
        assert isinstance(fake, RecordingSlack)
        calls = Counter(call.method for call in [*fake.calls, *fake.refused])
        throttled = Counter(call.method for call in fake.throttled)
        return SlackLog(list(fake.delivered), dict(calls), dict(throttled))
