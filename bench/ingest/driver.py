"""The world outside the bot: Slack's Web API (FakeSlack) and Slack sending events (the load).

By default it runs in a child process with its own event loop, so the app under test has its
process to itself, as it would in production where Slack is somewhere else. `--inline` runs it
in the benchmark's own loop instead (cheaper to set up, but the figures then include the
fake's and the generator's CPU time).
"""

from __future__ import annotations

from typing import Protocol

from bench.ingest.events import Plan, ai_message, signed_request
from bench.ingest.load import LoadResult, closed_loop, new_session, open_loop, warm_up
from bench.remote import Remote
from tests.support.fake_slack import FakeSlack


class Outside(Protocol):
    async def start(self) -> str: ...
    async def seed(self, plan: Plan) -> None: ...
    async def warm_up(self, url: str, plan: Plan) -> int: ...
    async def run(
        self, url: str, plan: Plan, *, rate: float | None, concurrency: int | None
    ) -> LoadResult: ...
    async def confirmations(self, users: frozenset[str]) -> int: ...
    async def stop(self) -> None: ...


class Driver:
    """FakeSlack plus the load generator, in whatever loop runs it."""

    def __init__(self) -> None:
        self.fake = FakeSlack()

    async def start(self) -> str:
        return await self.fake.start()

    async def seed(self, plan: Plan) -> None:
        for ts in plan.messages:
            self.fake.add_message(plan.events[0].channel, ai_message(ts))

    async def warm_up(self, url: str, plan: Plan) -> int:
        requests = [signed_request(event) for event in plan.events]
        async with new_session() as session:
            return await warm_up(session, url, requests)

    async def run(
        self, url: str, plan: Plan, *, rate: float | None, concurrency: int | None
    ) -> LoadResult:
        """One timed phase: open loop when `rate` is given, else closed loop."""
        requests = [signed_request(event) for event in plan.events]  # signed before the clock
        self.fake.calls.clear()
        async with new_session() as session:
            if rate is not None:
                return await open_loop(session, url, requests, rate)
            assert concurrency is not None
            return await closed_loop(session, url, requests, concurrency)

    async def confirmations(self, users: frozenset[str]) -> int:
        """How many confirmations (ephemeral messages) reached these users."""
        return sum(
            1 for args in self.fake.calls_to("chat.postEphemeral") if args.get("user") in users
        )

    async def stop(self) -> None:
        await self.fake.stop()


class RemoteDriver:
    """A `Driver` in a child process, called over a pipe."""

    def __init__(self) -> None:
        self._remote = Remote(Driver)
        self._call = self._remote.call

    async def start(self) -> str:
        url: str = await self._call("start")
        return url

    async def seed(self, plan: Plan) -> None:
        await self._call("seed", plan)

    async def warm_up(self, url: str, plan: Plan) -> int:
        count: int = await self._call("warm_up", url, plan)
        return count

    async def run(
        self, url: str, plan: Plan, *, rate: float | None, concurrency: int | None
    ) -> LoadResult:
        result: LoadResult = await self._call("run", url, plan, rate=rate, concurrency=concurrency)
        return result

    async def confirmations(self, users: frozenset[str]) -> int:
        count: int = await self._call("confirmations", users)
        return count

    async def stop(self) -> None:
        await self._remote.stop()
