"""The world outside the bot for the flag → card phase: Slack's Web API (a timed FakeSlack) and
Slack sending `reaction_added` events at a fixed open-loop rate.

Both ends of every latency (the event sent, the card received) are stamped with
`time.perf_counter()` here, in one process. By default this runs in a child process with its own
event loop, so the bot has its process to itself, as in production where Slack is elsewhere;
`--inline` runs it in the bot's loop instead (the figures then include the fake's CPU time).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from bench.remote import Remote
from tests.support.bot_settings import SIGNING_SECRET, slack_signature
from tests.support.fake_slack import FakeSlack

AI_CHANNEL = "C0SUPPORT"
AI_BOT_ID = "B0SUPPORT"  # routing.yaml: support-assistant, triaged in C0TRIAGE
TRIAGE_CHANNEL = "C0TRIAGE"
EMOJI = "x"  # hallucination: high severity, routed to alice
CARD_PREFIX = "Case #"


def message_ts(index: int) -> str:
    """The ts of AI message `index`: distinct per flag, so every flag opens its own case."""
    return f"1700001000.{index:06d}"


@dataclass
class Sent:
    index: int
    due: float  # when the open loop meant to send it
    sent: float  # perf_counter just before the request went out
    answered: float = 0.0  # perf_counter when the ack (HTTP response) came back
    status: int = 0


@dataclass
class Card:
    case_id: int
    arrived: float  # perf_counter when the fake Slack received chat.postMessage


@dataclass
class Outcome:
    sent: list[Sent] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class TimedSlack(FakeSlack):
    """FakeSlack that stamps the arrival of every case card posted to the triage channel."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[Card] = []

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        arrived = time.perf_counter()
        text = str(args.get("text", ""))
        if args.get("channel") == TRIAGE_CHANNEL and text.startswith(CARD_PREFIX):
            number = text[len(CARD_PREFIX) :].split(" ·", 1)[0]
            if number.isdigit():
                self.cards.append(Card(int(number), arrived))
        return super()._chat_postMessage(args)


def _signed(index: int) -> tuple[bytes, dict[str, str]]:
    envelope = {
        "token": "legacy-unused",
        "team_id": "T0ACME",
        "api_app_id": "A0LOOPKEEPER",
        "type": "event_callback",
        "event_id": f"Ev0BENCHESC{index:07d}",
        "event_time": int(time.time()),
        "event": {
            "type": "reaction_added",
            "user": f"U0BENCH{index:06d}",
            "reaction": EMOJI,
            "item": {"type": "message", "channel": AI_CHANNEL, "ts": message_ts(index)},
            "item_user": "U0SOMEONE",
            "event_ts": f"{int(time.time())}.{index:06d}",
        },
        "authorizations": [{"team_id": "T0ACME", "user_id": "U0LOOPKEEPER", "is_bot": True}],
    }
    body = json.dumps(envelope).encode()
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": slack_signature(body, stamp, SIGNING_SECRET),
    }
    return body, headers


class OutsideApi(Protocol):
    async def start(self) -> str: ...
    async def seed(self, indexes: list[int]) -> None: ...
    async def flag(self, url: str, indexes: list[int], rate: float) -> list[Sent]: ...
    async def wait_cards(self, count: int, deadline: float, settle: float) -> int: ...
    async def outcome(self) -> Outcome: ...
    async def stop(self) -> None: ...


class Outside:
    """TimedSlack plus the open-loop event generator, in whatever loop runs it."""

    def __init__(self) -> None:
        self.slack = TimedSlack()
        self._sent: list[Sent] = []
        self._errors: list[str] = []

    async def start(self) -> str:
        return await self.slack.start()

    async def seed(self, indexes: list[int]) -> None:
        for index in indexes:
            self.slack.add_message(
                AI_CHANNEL,
                {
                    "type": "message",
                    "ts": message_ts(index),
                    "bot_id": AI_BOT_ID,
                    "text": f"AI answer number {index}",
                },
            )

    async def flag(self, url: str, indexes: list[int], rate: float) -> list[Sent]:
        """Send one signed reaction_added per index, the i-th at start + i/rate (open loop)."""
        requests = [(index, *_signed(index)) for index in indexes]  # signed before the clock
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        timeout = aiohttp.ClientTimeout(total=60)
        sent: list[Sent] = []
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def one(record: Sent, body: bytes, headers: dict[str, str]) -> None:
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        record.status = response.status
                except Exception as error:  # a measurement records failures, it does not stop
                    self._errors.append(f"flag {record.index}: {error!r}")
                record.answered = time.perf_counter()

            tasks = []
            start = time.perf_counter() + 0.01
            for position, (index, body, headers) in enumerate(requests):
                due = start + position / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                record = Sent(index=index, due=due, sent=time.perf_counter())
                sent.append(record)
                tasks.append(asyncio.create_task(one(record, body, headers)))
            await asyncio.gather(*tasks)
        self._sent.extend(sent)
        return sent

    async def wait_cards(self, count: int, deadline: float, settle: float) -> int:
        """Wait until `count` distinct cases have a card (or `deadline` seconds), then `settle` more
        seconds so a duplicate post would show up; the number of distinct cases carded."""
        give_up = time.perf_counter() + deadline
        while len({c.case_id for c in self.slack.cards}) < count:
            if time.perf_counter() > give_up:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(settle)
        return len({c.case_id for c in self.slack.cards})

    async def outcome(self) -> Outcome:
        return Outcome(sent=list(self._sent), cards=list(self.slack.cards), errors=self._errors)

    async def stop(self) -> None:
        await self.slack.stop()


class RemoteOutside:
    """An `Outside` in a child process (spawned), called over a pipe."""

    def __init__(self) -> None:
        self._remote = Remote(Outside)
        self._call = self._remote.call

    async def start(self) -> str:
        url: str = await self._call("start")
        return url

    async def seed(self, indexes: list[int]) -> None:
        await self._call("seed", indexes)

    async def flag(self, url: str, indexes: list[int], rate: float) -> list[Sent]:
        sent: list[Sent] = await self._call("flag", url, indexes, rate)
        return sent

    async def wait_cards(self, count: int, deadline: float, settle: float) -> int:
        carded: int = await self._call("wait_cards", count, deadline, settle)
        return carded

    async def outcome(self) -> Outcome:
        result: Outcome = await self._call("outcome")
        return result

    async def stop(self) -> None:
        await self._remote.stop()
