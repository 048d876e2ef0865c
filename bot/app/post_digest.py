"""`loopkeeper digest --post`: queue a digest on every configured platform and deliver it.

Composition, not aggregation: it builds a runtime, so it lives with the composition root.
"""

from __future__ import annotations

from bot.app.main import build_runtime
from bot.config.settings import Settings
from bot.core.routing_rules import Digest, Routing
from digests.week import IsoWeek


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
        await runtime.dispatcher.drain()
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
