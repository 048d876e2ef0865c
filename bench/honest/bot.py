"""The app under test, alone in its process: `python -m bench.honest.bot loopkeeper|floor|bolt`.

It reads the environment `loopkeeper serve` reads (LOOPKEEPER_DATABASE_URL, LOOPKEEPER_CONFIG,
SLACK_API_URL pointing at the fake, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET) and serves the app
on an ephemeral port, plus a control route on another (the SQL counted, what is still queued,
this process's CPU time), printing both URLs as one JSON line. It stops on SIGTERM. The database
must already be migrated. The control route reads through an engine of its own that is not
counted, so polling it does not change the figures it reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import AsyncIterator

from aiohttp import web

from bench.floor import floor_app, floor_engine
from bench.ingest.targets import bare_bolt, serve
from bot.app.heap import freeze_startup_heap
from bot.app.main import build_runtime
from bot.config.loading import load_routing
from bot.config.settings import Settings
from tests.support.sql_counter import SqlCounter


def _secret(settings: Settings) -> str:
    assert settings.slack_signing_secret is not None, "SLACK_SIGNING_SECRET is not set"
    return settings.slack_signing_secret.get_secret_value()


@contextlib.asynccontextmanager
async def _loopkeeper(settings: Settings, counter: SqlCounter) -> AsyncIterator[str]:
    runtime = await build_runtime(settings, load_routing(settings.config_path))
    counter.attach(runtime.store.engine)
    try:
        await runtime.start_background()
        freeze_startup_heap()  # as `loopkeeper serve` does
        async with serve(runtime.web_app) as base:
            yield base + "/slack/events"
    finally:
        await runtime.close()


@contextlib.asynccontextmanager
async def _floor(settings: Settings, counter: SqlCounter) -> AsyncIterator[str]:
    async with floor_engine(settings.database_url) as engine:
        counter.attach(engine)
        async with serve(floor_app(engine, _secret(settings))) as base:
            yield base + "/slack/events"


@contextlib.asynccontextmanager
async def _bolt(settings: Settings, _counter: SqlCounter) -> AsyncIterator[str]:
    async with bare_bolt(settings.slack_api_url) as url:
        yield url


APPS = {"loopkeeper": _loopkeeper, "floor": _floor, "bolt": _bolt}


async def _main(kind: str) -> None:
    settings = Settings()
    counter = SqlCounter()
    counter.watch_inline_sqlite()  # before the app's engine opens its first connection
    async with APPS[kind](settings, counter) as events_url:

        async def control(_request: web.Request) -> web.Response:
            counts = counter.counts()
            body = {
                "counts": counts.__dict__,
                "kinds": counter.kinds(),
                "cpu_seconds": time.process_time(),
            }
            return web.json_response(body)

        control_app = web.Application()
        control_app.router.add_get("/state", control)
        async with serve(control_app) as control_url:
            print(json.dumps({"events": events_url, "control": control_url + "/state"}), flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in APPS:
        raise SystemExit(f"usage: python -m bench.honest.bot {'|'.join(APPS)}")
    asyncio.run(_main(sys.argv[1]))


if __name__ == "__main__":
    main()
