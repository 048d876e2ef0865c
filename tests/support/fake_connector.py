"""A fake Bot Connector (the Teams side of the Bot Framework) on an ephemeral port.

It records what the bot sends (new activities, thread replies, updates, new 1:1 chats) and
answers the member lookups botbuilder makes. Activities posted to the bot carry its URL as
their `serviceUrl`, so every outbound call of the bot lands here.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.rate_limits import Latency, TeamsLimits, retry_after


@dataclass
class Sent:
    """One call the bot made: `kind` is send, reply, update or create."""

    kind: str
    conversation_id: str
    activity: dict[str, Any]
    activity_id: str | None = None  # the id answered (send/reply) or updated (update)
    authorization: str | None = None


@dataclass
class Failure:
    status: int
    retry_after: int | None = None


@dataclass
class FakeConnector:
    url: str = ""
    sent: list[Sent] = field(default_factory=list)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> account
    failures: dict[str, list[Failure]] = field(default_factory=lambda: defaultdict(list))
    refused: list[Sent] = field(default_factory=list)
    member_lookups: list[tuple[str, str]] = field(default_factory=list)
    limits: TeamsLimits | None = None
    """Teams' per-conversation limits, answered with 429 + Retry-After; off: none."""
    throttled: list[Sent] = field(default_factory=list)  # calls answered 429 by `limits`
    method_latency: Latency | None = None
    """Seconds each call takes, drawn per kind (e.g. 50-150 ms): a realistic connector."""
    _runner: web.AppRunner | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_member(
        self, user_id: str, name: str, email: str, aad_object_id: str | None = None
    ) -> dict[str, Any]:
        """Someone the member lookups know, with their e-mail and UPN."""
        account = {
            "id": user_id,
            "name": name,
            "aadObjectId": aad_object_id or f"aad-{user_id.split(':')[-1]}",
            "email": email,
            "userPrincipalName": email,
            "givenName": name,
            "tenantId": "tenant-1",
            "userRole": "user",
        }
        self.members[user_id] = account
        return account

    def fail(self, kind: str, *failures: Failure) -> None:
        """Answer the next calls of `kind` (send, reply, update, create) with these failures."""
        self.failures[kind].extend(failures)

    def of_kind(self, kind: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == kind]

    def cards(self) -> list[Sent]:
        """Every send, reply or update that carried an Adaptive Card."""
        return [s for s in self.sent if card_of(s.activity) is not None]

    def to(self, conversation_id: str) -> list[Sent]:
        return [s for s in self.sent if s.conversation_id == conversation_id]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._reply)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        app.router.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        app.router.add_get("/v3/conversations/{conversation}/pagedmembers", self._paged_members)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _failure(self, kind: str, sent: Sent) -> web.Response | None:
        failure = self.failures[kind].pop(0) if self.failures[kind] else None
        if failure is None and self.limits is not None and kind != "create":
            wait = self.limits.check(sent.conversation_id)
            if wait is not None:
                self.throttled.append(sent)
                failure = Failure(429, retry_after=retry_after(wait))
        if failure is None:
            return None
        self.refused.append(sent)
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
        return web.json_response(
            {"error": {"code": "Failure", "message": f"fake failure {failure.status}"}},
            status=failure.status,
            headers=headers,
        )

    async def _record(self, request: web.Request, kind: str, conversation: str) -> Sent:
        if self.method_latency is not None:
            await asyncio.sleep(self.method_latency.of(kind))
        body = await request.json() if request.can_read_body else {}
        return Sent(
            kind=kind,
            conversation_id=conversation,
            activity=body,
            activity_id=request.match_info.get("activity"),
            authorization=request.headers.get("Authorization"),
        )

    async def _send(self, request: web.Request) -> web.Response:
        sent = await self._record(request, "send", request.match_info["conversation"])
        refused = self._failure("send", sent)
        if refused is not None:
            return refused
        sent.activity_id = f"17000000{next(self._ids):05d}"
        self.sent.append(sent)
        return web.json_response({"id": sent.activity_id}, status=201)

    async def _reply(self, request: web.Request) -> web.Response:
        sent = await self._record(request, "reply", request.match_info["conversation"])
        refused = self._failure("reply", sent)
        if refused is not None:
            return refused
        self.sent.append(sent)
        return web.json_response({"id": f"17000000{next(self._ids):05d}"}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        sent = await self._record(request, "update", request.match_info["conversation"])
        refused = self._failure("update", sent)
        if refused is not None:
            return refused
        self.sent.append(sent)
        return web.json_response({"id": sent.activity_id}, status=200)

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        members = body.get("members") or []
        user = members[0]["id"] if members else "nobody"
        sent = Sent(
            kind="create",
            conversation_id=f"a:1:personal-{user}",
            activity=body,
            authorization=request.headers.get("Authorization"),
        )
        refused = self._failure("create", sent)
        if refused is not None:
            return refused
        self.sent.append(sent)
        return web.json_response({"id": sent.conversation_id}, status=201)

    async def _member(self, request: web.Request) -> web.Response:
        member = request.match_info["member"]
        self.member_lookups.append((request.match_info["conversation"], member))
        account = self.members.get(member) or next(
            (m for m in self.members.values() if m.get("aadObjectId") == member), None
        )
        if account is None:
            return web.json_response(
                {"error": {"code": "MemberNotFoundInConversation", "message": "not found"}},
                status=404,
            )
        return web.json_response(account)

    async def _paged_members(self, request: web.Request) -> web.Response:
        self.member_lookups.append((request.match_info["conversation"], "*"))
        return web.json_response({"members": list(self.members.values())})


def card_of(activity: dict[str, Any]) -> dict[str, Any] | None:
    """The Adaptive Card an activity carries, if any."""
    for attachment in activity.get("attachments") or []:
        if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
            content = attachment.get("content")
            return content if isinstance(content, dict) else None
    return None
