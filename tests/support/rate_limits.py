"""The platforms' rate limits, for the fakes: what Slack and the Bot Connector answer with 429.

Off unless a fake is given limits, so tests that do not care see no 429. The limiters read an
injectable clock (seconds): a test can share its ManualClock with them and never sleep.

Slack: `chat.postMessage` about one message per second per channel (a short burst tolerated),
other Web API methods by tier (Tier 1-4: 1, 20, 50, 100 per minute), each per workspace.
Teams: per bot per conversation 7 per 1 s, 8 per 2 s, 60 per 30 s, 1,800 per hour.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

Seconds = Callable[[], float]

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
SLACK_METHOD_TIERS = {
    "chat.update": 3,
    "chat.getPermalink": 4,
    "chat.postEphemeral": 4,
    "conversations.history": 3,
    "conversations.replies": 3,
    "conversations.open": 3,
    "users.lookupByEmail": 3,
    "users.info": 4,
    "views.open": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}
"""Slack's documented tier of each Web API method the bot calls (auth.test and
apps.connections.open are special tiers Slack hardly limits: not limited here)."""

TEAMS_WINDOWS = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))
"""(messages, seconds): Teams' limits per bot per conversation."""


@dataclass
class Bucket:
    """A token bucket: `capacity` at once, refilled at `per_second`."""

    capacity: float
    per_second: float
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float) -> float | None:
        """Take a token: None when there was one, else the seconds until there is."""
        if self.tokens < 0:
            self.tokens, self.at = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.per_second


@dataclass
class Windows:
    """Sliding windows, each allowing so many messages in so many seconds."""

    limits: tuple[tuple[int, float], ...] = TEAMS_WINDOWS
    sent: deque[float] = field(default_factory=deque)

    def take(self, now: float) -> float | None:
        longest = max(seconds for _, seconds in self.limits)
        while self.sent and self.sent[0] <= now - longest:
            self.sent.popleft()
        wait = 0.0
        for count, seconds in self.limits:
            inside = [t for t in self.sent if t > now - seconds]
            if len(inside) >= count:
                wait = max(wait, inside[-count] + seconds - now)
        if wait > 0:
            return wait
        self.sent.append(now)
        return None


def retry_after(wait: float) -> int:
    """Retry-After as the platforms send it: whole seconds, at least one."""
    return max(1, math.ceil(wait))


@dataclass
class SlackLimits:
    """Slack's limits for FakeSlack(limits=...); `clock` gives the time in seconds."""

    clock: Seconds = time.monotonic
    per_channel_per_second: float = 1.0
    channel_burst: int = 4
    method_tiers: dict[str, int] = field(default_factory=lambda: dict(SLACK_METHOD_TIERS))
    _channels: dict[str, Bucket] = field(default_factory=dict)
    _methods: dict[str, Bucket] = field(default_factory=dict)

    def check(self, method: str, channel: str | None) -> float | None:
        """None when Slack would take the call now, else the seconds it would ask to wait."""
        now = self.clock()
        if method == "chat.postMessage" and channel:
            bucket = self._channels.setdefault(
                channel, Bucket(self.channel_burst, self.per_channel_per_second)
            )
            return bucket.take(now)
        tier = self.method_tiers.get(method)
        if tier is None:
            return None
        per_minute = TIER_PER_MINUTE[tier]
        bucket = self._methods.setdefault(method, Bucket(per_minute, per_minute / 60))
        return bucket.take(now)


@dataclass
class TeamsLimits:
    """Teams' per-conversation limits for FakeConnector(limits=...)."""

    clock: Seconds = time.monotonic
    windows: tuple[tuple[int, float], ...] = TEAMS_WINDOWS
    _conversations: dict[str, Windows] = field(default_factory=dict)

    def check(self, conversation: str) -> float | None:
        found = self._conversations.setdefault(conversation, Windows(self.windows))
        return found.take(self.clock())


@dataclass
class Latency:
    """Seconds each call takes, drawn per method between `low` and `high` (seeded)."""

    low: float = 0.05
    high: float = 0.15
    seed: int = 7
    _dice: dict[str, random.Random] = field(default_factory=dict)
    drawn: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def of(self, method: str) -> float:
        dice = self._dice.setdefault(method, random.Random(f"{self.seed}:{method}"))
        seconds = dice.uniform(self.low, self.high)
        self.drawn[method].append(seconds)
        return seconds
