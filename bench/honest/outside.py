"""The two processes outside the app: the fake Slack Web API, and Slack sending events.

Each is an object living in a spawned child of its own (`bench.remote.Remote`), so neither's CPU
counts against the other or against the app. Times on both sides are `time.monotonic()` (the
load generator's event loop clock is the same clock): on Linux that is CLOCK_MONOTONIC, one
clock for every process on the machine, so a card's arrival in one process and its flag's
sending in another can be subtracted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.ingest.events import Plan, ai_message, signed_request
from bench.ingest.load import LoadResult, closed_loop, new_session, open_loop, warm_up
from bench.remote import Remote
from tests.support.fake_slack import FakeSlack

TRIAGE_CHANNEL = "C0TRIAGE"
CARD_PREFIX = "Case #"


class CardStampingSlack(FakeSlack):
    """FakeSlack that notes when each case's card (its first post in the triage channel) came."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[int, float] = {}
        self.card_posts = 0

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        arrived = time.monotonic()
        text = str(args.get("text", ""))
        if args.get("channel") == TRIAGE_CHANNEL and text.startswith(CARD_PREFIX):
            number = text[len(CARD_PREFIX) :].split(" ", 1)[0]
            if number.isdigit():
                self.card_posts += 1
                self.cards.setdefault(int(number), arrived)
        return super()._chat_postMessage(args)


class SlackHost:
    def __init__(self) -> None:
        self.fake = CardStampingSlack()

    async def start(self) -> str:
        return await self.fake.start()

    async def seed(self, plan: Plan) -> None:
        for ts in plan.messages:
            self.fake.add_message(plan.events[0].channel, ai_message(ts))

    async def cards(self) -> tuple[dict[int, float], int]:
        """When each case's card arrived, and how many card posts there were in all."""
        return dict(self.fake.cards), self.fake.card_posts

    async def stop(self) -> None:
        await self.fake.stop()


class LoadHost:
    async def warm_up(self, url: str, plan: Plan) -> int:
        requests = [signed_request(event) for event in plan.events]
        async with new_session() as session:
            return await warm_up(session, url, requests)

    async def run(
        self, url: str, plan: Plan, *, rate: float | None, concurrency: int | None
    ) -> LoadResult:
        """Open loop at `rate`, else closed loop with `concurrency` in flight."""
        requests = [signed_request(event) for event in plan.events]  # signed before the clock
        async with new_session() as session:
            if rate is not None:
                return await open_loop(session, url, requests, rate)
            assert concurrency is not None
            return await closed_loop(session, url, requests, concurrency)

    async def stop(self) -> None:
        return None


class Outside:
    """Both children, started together; `slack` builds the fake Slack's host in its child."""

    def __init__(self, slack: Callable[[], SlackHost] = SlackHost) -> None:
        self.slack = Remote(slack, name="bench-fake-slack")
        self.load = Remote(LoadHost, name="bench-load")

    async def stop(self) -> None:
        try:
            await self.load.stop()
        finally:
            await self.slack.stop()
