"""`GET /status`: what an operator asks first when something looks wrong, as JSON.

Unlike /readyz (database and migrations, for the orchestrator), it says whether the platforms
accepted the bot's credentials at start-up and how far behind delivery is. It answers 200 even
when things are wrong: it reports, probes decide. No secrets: only yes/no and counts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol

from aiohttp import web

from bot.core.ports import Clock
from bot.core.telemetry import Health

log = logging.getLogger(__name__)


class QueueSizes(Protocol):
    @property
    def inbox_pending(self) -> int: ...
    @property
    def inbox_dead(self) -> int: ...
    @property
    def outbox_pending(self) -> int: ...
    @property
    def outbox_dead(self) -> int: ...


@dataclass
class StatusSources:
    clock: Clock
    started: datetime
    ping: Callable[[], Awaitable[None]]
    queue_sizes: Callable[[], Awaitable[QueueSizes]]
    health: Callable[[datetime], Awaitable[Health]]
    slack_auth: bool | None = None  # None: Slack is off
    teams_mode: str | None = None  # "emulator" or "bot_framework"; None: Teams is off


def loopkeeper_version() -> str:
    try:
        return version("loopkeeper")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def status_route(sources: StatusSources) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        now = sources.clock.now()
        slack_auth = sources.slack_auth
        body: dict[str, object] = {
            "version": loopkeeper_version(),
            "uptime_seconds": round((now - sources.started).total_seconds(), 3),
            "slack": {
                "configured": slack_auth is not None,
                "auth": None if slack_auth is None else ("ok" if slack_auth else "failed"),
            },
            "teams": {"configured": sources.teams_mode is not None, "mode": sources.teams_mode},
        }
        try:
            await sources.ping()
            sizes = await sources.queue_sizes()
            health = await sources.health(now)
        except Exception as error:  # a status page reports a database fault, it does not 500
            log.warning("/status could not read the database: %s", type(error).__name__)
            body["database"] = f"unreachable: {type(error).__name__}"
            return web.json_response(body)
        body["database"] = "ok"
        for queue, pending, dead, oldest in (
            ("outbox", sizes.outbox_pending, sizes.outbox_dead, health.oldest_outbox),
            ("inbox", sizes.inbox_pending, sizes.inbox_dead, health.oldest_inbox),
        ):
            age = max((now - oldest).total_seconds(), 0.0) if oldest else 0.0
            body[queue] = {"pending": pending, "dead": dead, "oldest_pending_seconds": age}
        return web.json_response(body)

    return handle
