"""A fake Slack Socket Mode server: a local websocket that sends envelopes and records acks.

`FakeSlack` answers `apps.connections.open` with `FakeSocketMode.issue_url()`, so the bot's
Socket Mode client connects here exactly as it would to Slack: it is handed a `ws://` URL,
receives `hello`, then envelopes, and answers each with `{"envelope_id": ..., "payload": ...}`.
Tests wait on what was recorded (connections, acks) with a timeout, never with a sleep.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

WAIT_SECONDS = 10.0
"""Generous: how long a test waits for the bot to connect or ack before failing."""

_envelopes = itertools.count(1)


def envelope_id() -> str:
    return f"env-{next(_envelopes):06d}"


@dataclass
class FakeSocketMode:
    urls_issued: int = 0
    """How many times the bot called apps.connections.open (a reconnect issues a new URL)."""
    connections: list[web.WebSocketResponse] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    """Every message the bot sent back, parsed (acks carry `envelope_id` and maybe `payload`)."""
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None
    _base: str = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/link/{ticket}", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self._base = f"ws://127.0.0.1:{sock.getsockname()[1]}/link/"

    async def stop(self) -> None:
        for ws in self.connections:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def issue_url(self) -> str:
        """What apps.connections.open answers: a fresh URL for each call, as Slack does."""
        self.urls_issued += 1
        return f"{self._base}ticket-{self.urls_issued}"

    # --- what the server sends -------------------------------------------------------------

    async def send(self, message: dict[str, Any] | str) -> None:
        """Send a raw message (an envelope, or anything else) on the newest connection."""
        ws = self.connections[-1]
        await ws.send_str(message if isinstance(message, str) else json.dumps(message))

    async def send_envelope(
        self, kind: str, payload: Any, *, retry_attempt: int = 0, **extra: Any
    ) -> str:
        """A real Socket Mode envelope; returns its envelope_id."""
        eid = envelope_id()
        message: dict[str, Any] = {"envelope_id": eid, "type": kind, "payload": payload}
        if kind == "events_api":
            message["retry_attempt"] = retry_attempt
            message["retry_reason"] = "timeout" if retry_attempt else ""
        message["accepts_response_payload"] = kind != "events_api"
        message.update(extra)
        await self.send(message)
        return eid

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        await self.send({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}})

    async def close_newest(self) -> None:
        """Close the newest connection from the server's side, as Slack does every few hours."""
        await self.connections[-1].close()

    # --- what the bot did --------------------------------------------------------------------

    async def connected(self, count: int = 1) -> None:
        """Wait until the bot has opened `count` connections in all."""
        await self._until(lambda: len(self.connections) >= count)

    async def ack_of(self, eid: str) -> dict[str, Any]:
        """Wait for the bot's ack of the envelope `eid` and return it."""
        await self._until(lambda: any(a.get("envelope_id") == eid for a in self.acks))
        return next(a for a in self.acks if a.get("envelope_id") == eid)

    def acked(self, eid: str) -> bool:
        return any(a.get("envelope_id") == eid for a in self.acks)

    async def _until(self, ready: Callable[[], bool]) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(ready), WAIT_SECONDS)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()  # answers the client's pings itself
        await ws.prepare(request)
        self.connections.append(ws)
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": "A0LOOPKEEPER"},
                }
            )
        )
        await self._notify()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                try:
                    self.acks.append(json.loads(message.data))
                except json.JSONDecodeError:
                    self.acks.append({"unparseable": message.data})
                await self._notify()
        return ws
