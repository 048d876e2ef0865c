"""A real webhook receiver on an ephemeral port, as a user would write one: it verifies each
delivery with the verification example of docs/webhooks.md (run as written there) and dedupes
events by id. Tests script its answers (500s, a 429 with Retry-After) and can make it hang."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
from aiohttp import web

from bot.core.clock import ManualClock
from handlers.webhooks.openapi import SCHEMAS

DOCS = Path(__file__).parent.parent / "docs" / "webhooks.md"


def verification_example() -> str:
    """The Python block under "Verify a delivery" in docs/webhooks.md."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Verify a delivery", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None, "docs/webhooks.md has no verification example"
    return found.group(1)


def event_validator() -> Any:
    """Checks a delivery against the OpenAPI document's schemas of the webhook events."""
    document = {
        "anyOf": [
            {"$ref": "#/components/schemas/CaseEvent"},
            {"$ref": "#/components/schemas/DigestEvent"},
        ],
        "components": {"schemas": SCHEMAS},
    }
    return jsonschema_rs.Draft202012Validator(document)


def load_verify() -> Callable[..., bool]:
    namespace: dict[str, Any] = {}
    exec(compile(verification_example(), str(DOCS), "exec"), namespace)  # noqa: S102
    verify: Callable[..., bool] = namespace["verify"]
    return verify


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    record: bool = False
    """Process the event even though the answer is an error (it is lost on the way back)."""


class WebhookReceiver:
    def __init__(self, secret: str, clock: ManualClock) -> None:
        self.secret = secret.encode()
        self.clock = clock
        self.verify = load_verify()
        self.validator = event_validator()
        self.undocumented: list[str] = []  # events not as the OpenAPI document says
        self.answers: list[Answer] = []
        self.attempts: list[dict[str, Any]] = []  # every request: headers, body, verified
        self.events: dict[str, dict[str, Any]] = {}  # processed, by id (deduped)
        self.duplicates = 0
        self.refused = 0
        self.hold: asyncio.Event | None = None  # set: requests hang until it is set
        self.url = ""
        self._runner: web.AppRunner | None = None

    def answer(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events.values() if e["type"] == event_type]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
        return self.url

    async def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        verified = self.verify(self.secret, request.headers, body, now=self.clock.now().timestamp())
        self.attempts.append({"headers": dict(request.headers), "body": body, "ok": verified})
        if self.hold is not None:
            await self.hold.wait()
        if not verified:
            self.refused += 1
            return web.json_response({"error": "bad signature"}, status=401)
        answer = self.answers.pop(0) if self.answers else Answer()
        if answer.status < 300 or answer.record:
            self._process(json.loads(body))
        return web.json_response({}, status=answer.status, headers=answer.headers)

    def _process(self, event: dict[str, Any]) -> None:
        self.undocumented += [str(error) for error in self.validator.iter_errors(event)]
        if event["id"] in self.events:
            self.duplicates += 1
            return
        self.events[event["id"]] = event
