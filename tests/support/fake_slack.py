"""A fake Slack Web API on an ephemeral port: records every call, answers like Slack does."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.support.rate_limits import Latency, SlackLimits, retry_after

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-test-app-token"  # Socket Mode: only apps.connections.open takes it


@dataclass
class Call:
    method: str
    args: dict[str, Any]


@dataclass
class Failure:
    status: int
    error: str = "internal_error"
    retry_after: int | None = None
    done_anyway: bool = False
    """The call takes effect, only its answer is the failure (a reply lost on the way back)."""


@dataclass
class FakeSlack:
    team_domain: str = "acme"
    calls: list[Call] = field(default_factory=list)  # calls answered ok
    refused: list[Call] = field(default_factory=list)  # calls answered with a failure
    messages: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    failures: dict[str, list[Failure]] = field(default_factory=lambda: defaultdict(list))
    users: dict[str, str] = field(default_factory=dict)  # e-mail -> user id
    uploads: dict[str, bytes] = field(default_factory=dict)  # file id -> uploaded bytes
    storm: tuple[float, Failure, random.Random] | None = None
    holds: dict[str, asyncio.Event] = field(default_factory=dict)
    """Calls of these methods wait until their event is set."""
    held: list[str] = field(default_factory=list)  # methods of the calls that waited
    latency: float = 0.0
    """Seconds every Web API call takes to answer: a slow Slack."""
    method_latency: Latency | None = None
    """Seconds each call takes, drawn per method (e.g. 50-150 ms): a realistic Slack."""
    limits: SlackLimits | None = None
    """Slack's rate limits (per channel, per method tier), answered with 429; off: none."""
    throttled: list[Call] = field(default_factory=list)  # calls answered 429 by `limits`
    failing_when: list[tuple[str, Callable[[dict[str, Any]], bool], Failure]] = field(
        default_factory=list
    )
    responses: list[dict[str, Any]] = field(default_factory=list)
    """What was posted to a command's or an action's response_url."""
    url: str = ""
    socket_url: Callable[[], str] | None = None
    """What apps.connections.open hands out (fake_socket_mode.py); unset: Socket Mode off."""
    _runner: web.AppRunner | None = None
    _ts: int = 0

    def add_message(self, channel: str, message: dict[str, Any]) -> dict[str, Any]:
        """Put a message in a channel's history, as if someone (or some bot) posted it."""
        self.messages[channel][message["ts"]] = message
        return message

    def fail(self, method: str, *failures: Failure) -> None:
        """Answer the next calls of `method` with these failures, in order."""
        self.failures[method].extend(failures)

    def fail_when(self, method: str, wanted: Callable[[dict[str, Any]], bool], f: Failure) -> None:
        """Answer the next call of `method` whose arguments are `wanted` with failure `f`."""
        self.failing_when.append((method, wanted, f))

    def fail_in(self, channel: str, method: str, *failures: Failure) -> None:
        """Answer the next calls of `method` into `channel` with these failures, in order."""
        self.failures[f"{method}@{channel}"].extend(failures)

    def start_storm(self, rate: float, failure: Failure, seed: int = 7) -> None:
        """Answer a share `rate` of all calls (but auth.test) with `failure`, at random."""
        self.storm = (rate, failure, random.Random(seed))

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [c.args for c in self.calls if c.method == method]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/respond/{rest:.*}", self._respond)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/api/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _arguments(request)
        token = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        given = request.headers.get("Authorization")
        if given != f"Bearer {token}":
            # As Slack answers: no token at all is not_authed, a wrong one invalid_auth.
            error = "invalid_auth" if given else "not_authed"
            return web.json_response({"ok": False, "error": error})
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.method_latency is not None:
            await asyncio.sleep(self.method_latency.of(method))
        if method in self.holds:
            self.held.append(method)
            await self.holds[method].wait()
        in_channel = f"{method}@{args.get('channel')}"
        queued = self.failures.get(in_channel)
        failure = queued.pop(0) if queued else None
        for rule in self.failing_when if failure is None else []:
            if rule[0] == method and rule[1](args):
                self.failing_when.remove(rule)
                failure = rule[2]
                break
        if failure is None and self.failures[method]:
            failure = self.failures[method].pop(0)
        if failure is None and self.limits is not None:
            wait = self.limits.check(method, str(args.get("channel") or "") or None)
            if wait is not None:
                self.throttled.append(Call(method, args))
                failure = Failure(429, "ratelimited", retry_after=retry_after(wait))
        if failure is None and self.storm and method != "auth.test":
            rate, storm_failure, dice = self.storm
            failure = storm_failure if dice.random() < rate else None
        if failure is None or failure.done_anyway:
            self.calls.append(Call(method, args))
        else:
            self.refused.append(Call(method, args))
        answer = getattr(self, "_" + method.replace(".", "_"), None)
        if failure is None or failure.done_anyway:
            body = answer(args) if answer else {"ok": True}
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            return web.json_response(
                {"ok": False, "error": failure.error}, status=failure.status, headers=headers
            )
        return web.json_response(body)

    def _next_ts(self) -> str:
        self._ts += 1
        return f"1800000000.{self._ts:06d}"

    @property
    def response_url(self) -> str:
        """A response_url that lands in `responses`."""
        return self.url.removesuffix("api/") + "respond/1"

    async def _respond(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text="OK")

    def _files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{len(self.calls):08d}"
        base = self.url.removesuffix("/api/")
        return {"ok": True, "file_id": file_id, "upload_url": f"{base}/upload/{file_id}"}

    def _files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        return {
            "ok": True,
            "files": [{"id": f["id"], "title": f.get("title")} for f in files or []],
        }

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Acme",
            "team_id": "T0ACME",
            "user": "loopkeeper",
            "user_id": "U0LOOPKEEPER",
            "bot_id": "B0LOOPKEEPER",
        }

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.messages.get(str(args.get("channel")), {})
        try:  # Slack answers a ts that is not a number with an error, as here
            oldest = float(args.get("oldest") or 0)
        except ValueError:
            return {"ok": False, "error": "invalid_ts_oldest"}
        try:
            latest = float(args.get("latest") or "inf")
        except ValueError:
            return {"ok": False, "error": "invalid_ts_latest"}
        found = [
            m
            for m in channel.values()
            if oldest <= float(m["ts"]) <= latest
            and m.get("thread_ts", m["ts"]) == m["ts"]  # replies aren't channel history
        ]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)  # newest first, as Slack does
        limit = int(args.get("limit") or 100)
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """As Slack: a thread's parent, then its replies oldest first; a reply's ts: the reply."""
        wanted = self._message(args, "ts")
        if wanted is None:
            return {"ok": True, "messages": [], "has_more": False}
        found = [wanted]
        if wanted.get("thread_ts", wanted["ts"]) == wanted["ts"]:
            replies = [
                m
                for m in self.messages[str(args.get("channel"))].values()
                if m.get("thread_ts") == wanted["ts"] and m["ts"] != wanted["ts"]
            ]
            found += sorted(replies, key=lambda m: float(m["ts"]))
        limit = int(args.get("limit") or 1000)
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}

    def _message(self, args: dict[str, Any], ts_arg: str) -> dict[str, Any] | None:
        return self.messages.get(str(args.get("channel")), {}).get(str(args.get(ts_arg)))

    def _chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel")), str(args.get("message_ts", ""))
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        message = self.messages.get(channel, {}).get(ts) or {}
        thread = message.get("thread_ts")
        if thread and thread != ts:  # as Slack links a reply: to its place in the thread
            link += f"?thread_ts={thread}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel")), self._next_ts()
        message: dict[str, Any] = {"type": "message", "ts": ts, "text": args.get("text")}
        if args.get("thread_ts"):
            message["thread_ts"] = str(args["thread_ts"])  # a string, as Slack keeps it
        metadata = args.get("metadata")
        if metadata:
            message["metadata"] = json.loads(metadata) if isinstance(metadata, str) else metadata
        self.messages[channel][ts] = message
        return {"ok": True, "channel": channel, "ts": ts}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        # The fake keeps a DM under the user's id, where chat.postMessage to the user puts it.
        user = str(args.get("users", "")).split(",")[0]
        return {"ok": True, "channel": {"id": user}}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _users_lookupByEmail(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("email", "")).lower())
        if user is None:
            return {"ok": False, "error": "users_not_found"}
        return {"ok": True, "user": {"id": user, "profile": {"email": args.get("email")}}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        emails = {user: email for email, user in self.users.items()}
        user = str(args.get("user"))
        if user not in emails:
            return {"ok": True, "user": {"id": user, "profile": {}}}
        return {"ok": True, "user": {"id": user, "profile": {"email": emails[user]}}}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.socket_url is None:
            return {"ok": False, "error": "socket_mode_not_enabled"}
        return {"ok": True, "url": self.socket_url()}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        return {"ok": True, "view": {**(view or {}), "id": f"V{len(self.calls):08d}"}}


async def _arguments(request: web.Request) -> dict[str, Any]:
    raw = await request.text()
    args: dict[str, Any] = dict(parse_qsl(request.query_string))
    if request.content_type == "application/json" and raw:
        args.update(json.loads(raw))
    elif raw:
        args.update(dict(parse_qsl(raw, keep_blank_values=True)))
    for key in ("view", "blocks"):
        if isinstance(args.get(key), str):
            args[key] = json.loads(args[key])
    return args
