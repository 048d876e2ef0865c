"""`loopkeeper digest --post`: queue a digest on every configured platform and deliver it.

Composition, not aggregation: it builds a runtime, so it lives with the composition root.
"""

from __future__ import annotations

import asyncio
import time

from bot.app.main import build_runtime
from bot.app.runtime import Runtime
from bot.config.settings import Settings
from bot.core.routing_rules import Digest, Routing
from digests.week import IsoWeek

PACED_PATIENCE_SECONDS = 30.0
"""How long `--post` waits for messages held back by pacing (a digest's messages go to one
channel about one a second); what fails, or waits longer, the running bot sends later."""


async def post_digest(settings: Settings, routing: Routing, digest: Digest, week: IsoWeek) -> str:
    runtime = await build_runtime(settings, routing)
    try:
        queued = await runtime.digests.post_now(digest, week)
        if not queued:
            return (
                f"Nothing to post: digest '{digest.name}' has no channel on a connected platform "
                "(set slack_channel/teams_channel and the platform's credentials)."
            )
        # Delivering what is due also sends anything else waiting: it was due as well.
        await deliver_paced(runtime, queued)
        if runtime.webhooks is not None:  # digest.posted, for the receivers that want it
            await runtime.webhooks.drain()
        pending = await runtime.store.undelivered(queued)
    finally:
        await runtime.close()
    if pending:
        return (
            f"Queued digest '{digest.name}' for {week}: {pending} of {len(queued)} message(s) "
            "could not be sent yet; the running bot (`loopkeeper serve`) will retry them."
        )
    return f"Posted digest '{digest.name}' for {week} ({len(queued)} message(s))."


async def deliver_paced(runtime: Runtime, keys: list[str]) -> None:
    """Run the outbox until the messages `keys` are sent, while they only wait their turn."""
    dispatcher = runtime.dispatcher
    deadline = time.monotonic() + PACED_PATIENCE_SECONDS
    failures = dispatcher.failures
    while True:
        await dispatcher.drain()
        if dispatcher.failures > failures or time.monotonic() > deadline:
            return
        if not await runtime.store.undelivered(keys):
            return
        await asyncio.sleep(0.25)
