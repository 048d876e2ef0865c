"""Starting the app under test as `python -m bench.honest.bot KIND` in a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.honest.queues import Queues, queues_of
from bench.ingest.events import ROUTING_FILE, SIGNING_SECRET
from tests.support.fake_slack import BOT_TOKEN

STARTUP_TIMEOUT_S = 60.0


@dataclass
class AppProcess:
    events_url: str
    control_url: str
    session: aiohttp.ClientSession
    queues: Queues

    async def state(self) -> dict[str, Any]:
        """The app's own counters (SQL, CPU) and its queues' lengths."""
        async with self.session.get(self.control_url) as response:
            response.raise_for_status()
            state: dict[str, Any] = await response.json()
        return {**state, **await self.queues.pending()}

    async def cases(self) -> dict[str, int]:
        return await self.queues.cases()


@contextlib.asynccontextmanager
async def app_process(kind: str, database_url: str, slack_url: str) -> AsyncIterator[AppProcess]:
    env = {
        **os.environ,
        "LOOPKEEPER_DATABASE_URL": database_url,
        "LOOPKEEPER_CONFIG": str(ROUTING_FILE),
        "SLACK_API_URL": slack_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        # The fake answers at once and limits nothing, so pacing would measure Slack's
        # one-message-a-second per channel, not loopkeeper: the targets are paced off.
        "LOOPKEEPER_PACING": "off",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.honest.bot", kind, env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT_S)
        if not line:
            raise RuntimeError(f"the {kind} process exited before serving")
        urls = json.loads(line)
        async with aiohttp.ClientSession() as session, queues_of(kind, database_url) as queues:
            yield AppProcess(urls["events"], urls["control"], session, queues)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
