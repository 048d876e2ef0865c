"""Bot Connector calls (send, reply, update, 1:1 chats, member lookups) off the main event loop.

botbuilder makes its REST calls with `requests` (run in an executor) and gets tokens with msal,
synchronously, inside coroutines; its inbound token validation fetches OpenID keys the same way.
Run on the bot's event loop, any of these would stall every request in flight. So they all run
on a private event loop in one worker thread, and the main loop only awaits their results.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationParameters,
    Mention,
)
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
)
from msrest.exceptions import ClientRequestError, HttpOperationError

from bot.core.outbox import DeliveryError

log = logging.getLogger(__name__)

T = TypeVar("T")

TIMEOUT_SECONDS = 15
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 410, 413})


class BotConnector:
    """The Bot Connector REST API, on a private loop; errors become `DeliveryError`s."""

    def __init__(self, auth: BotFrameworkAuthentication, app_id: str | None) -> None:
        self._auth = auth
        self._app_id = app_id or ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._clients: dict[str, ConnectorClient] = {}
        self._lock = threading.Lock()

    # --- the private loop --------------------------------------------------------------------

    def _worker_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name="botbuilder", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    async def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run `work()` on the private loop and wait for it without blocking this one."""
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(
            work(), self._worker_loop()
        )
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
        self._loop = self._thread = None

    # --- inbound authentication --------------------------------------------------------------

    async def authenticate(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        """Validate the request's token (JwtTokenValidation); raises on a bad or missing one."""
        return await self.run(lambda: self._auth.authenticate_request(activity, auth_header))

    # --- outbound calls ----------------------------------------------------------------------

    async def _client(self, service_url: str) -> ConnectorClient:
        """A connector for `service_url` (runs on the private loop; cached, tokens and all)."""
        client = self._clients.get(service_url)
        if client is None:
            claims = ClaimsIdentity(
                {
                    AuthenticationConstants.AUDIENCE_CLAIM: self._app_id,
                    AuthenticationConstants.APP_ID_CLAIM: self._app_id,
                },
                True,
            )
            factory = self._auth.create_connector_factory(claims)
            client = await factory.create(service_url, self._auth.get_originating_audience())
            client.config.retry_policy.retries = 0  # the outbox retries, honouring Retry-After
            client.config.connection.timeout = TIMEOUT_SECONDS
            self._clients[service_url] = client
        return client

    async def _call(
        self, service_url: str, what: str, call: Callable[[ConnectorClient], Awaitable[T]]
    ) -> T:
        async def work() -> T:
            return await call(await self._client(service_url))

        try:
            return await self.run(work)
        except HttpOperationError as error:
            raise _delivery_error(what, error) from error
        except (ClientRequestError, OSError, TimeoutError) as error:
            raise DeliveryError(f"cannot reach the Bot Connector for {what}: {error!r}") from error
        except PermissionError as error:  # no token: wrong credentials
            raise DeliveryError(f"{what}: {error}", permanent=True) from error

    async def send(self, service_url: str, conversation_id: str, activity: dict[str, Any]) -> str:
        """Post an activity to a conversation; its new id."""
        message = _activity(activity)
        response = await self._call(
            service_url,
            "send",
            lambda c: c.conversations.send_to_conversation(conversation_id, message),
        )
        return str(getattr(response, "id", "") or "")

    async def reply(
        self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]
    ) -> str:
        """Post an activity in the thread of `activity_id`."""
        message = _activity({**activity, "replyToId": activity_id})
        response = await self._call(
            service_url,
            "reply",
            lambda c: c.conversations.reply_to_activity(conversation_id, activity_id, message),
        )
        return str(getattr(response, "id", "") or "")

    async def update(
        self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]
    ) -> None:
        """Replace an activity the bot posted (a card refreshed for everyone)."""
        message = _activity({**activity, "id": activity_id})
        await self._call(
            service_url,
            "update",
            lambda c: c.conversations.update_activity(conversation_id, activity_id, message),
        )

    async def create_personal(
        self, service_url: str, tenant_id: str | None, bot_id: str | None, user_id: str
    ) -> str:
        """Open (or find) the 1:1 chat between the bot and a user; its conversation id."""
        parameters = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=bot_id) if bot_id else None,
            members=[ChannelAccount(id=user_id)],
            tenant_id=tenant_id,
            channel_data={"tenant": {"id": tenant_id}} if tenant_id else None,
        )
        response = await self._call(
            service_url,
            "create conversation",
            lambda c: c.conversations.create_conversation(parameters),
        )
        conversation_id = getattr(response, "id", None)
        if not conversation_id:
            raise DeliveryError("the Bot Connector created no conversation", permanent=True)
        return str(conversation_id)

    async def member(
        self, service_url: str, conversation_id: str, user_id: str
    ) -> dict[str, Any] | None:
        """A member of a conversation or team with their e-mail/UPN; None if not a member."""
        try:
            account = await self._call(
                service_url,
                "member lookup",
                lambda c: c.conversations.get_conversation_member(conversation_id, user_id),
            )
        except DeliveryError as error:
            if error.permanent:
                return None
            raise
        if account is None:
            return None
        return dict(account.serialize(), **(account.additional_properties or {}))

    async def members(self, service_url: str, conversation_id: str) -> list[dict[str, Any]]:
        """Every member of a team or conversation (paged), with e-mails."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(100):  # 100 pages of 500: a generous ceiling, never a loop forever
            page = await self._call(
                service_url,
                "member list",
                lambda c, t=token: c.conversations.get_teams_conversation_paged_members(  # type: ignore[misc]
                    conversation_id, 500, t
                ),
            )
            for account in getattr(page, "members", None) or []:
                found.append(dict(account.serialize(), **(account.additional_properties or {})))
            token = getattr(page, "continuation_token", None)
            if not token:
                break
        return found


def _activity(activity: dict[str, Any]) -> Activity:
    """An Activity model of a JSON activity, its @mentions kept (plain Entity models would be
    sent as `{"type": "mention"}` alone)."""
    message = Activity().deserialize(activity)
    mentions = [
        Mention(
            mentioned=ChannelAccount(
                id=entity["mentioned"].get("id"), name=entity["mentioned"].get("name")
            ),
            text=entity.get("text"),
            type="mention",
        )
        for entity in activity.get("entities") or []
        if entity.get("type") == "mention" and isinstance(entity.get("mentioned"), dict)
    ]
    if mentions:
        message.entities = [e for e in message.entities or [] if e.type != "mention"] + mentions
    return message


def _delivery_error(what: str, error: HttpOperationError) -> DeliveryError:
    response = error.response
    status = int(getattr(response, "status_code", 0) or 0)
    if status == 429 or status >= 500:
        retry_after = None
        header = response.headers.get("Retry-After") if response is not None else None
        try:
            retry_after = float(header) if header else None
        except ValueError:
            retry_after = None
        return DeliveryError(f"Bot Connector {what}: HTTP {status}", retry_after=retry_after)
    return DeliveryError(
        f"Bot Connector {what}: HTTP {status}", permanent=status in PERMANENT_STATUSES
    )
