"""Delivers webhook events from the outbox: one signed POST each, failures classified for the
outbox's retry policy (retried with backoff, `Retry-After` honoured, dead-lettered at the end)."""

from __future__ import annotations

import email.utils
from collections.abc import Collection, Mapping
from datetime import datetime

import aiohttp
from yarl import URL

from bot.core.models import OutboundMessage
from bot.core.outbox import DeliveryError, Dropped
from bot.core.ports import Clock
from handlers.webhooks.signature import sign

TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
"""A receiver gets 10 s to answer; one that hangs costs a retry, never a stuck loop."""

MAX_RETRY_AFTER = 3600.0
"""Seconds: a receiver asking for a longer pause still gets tried within the hour."""

RETRIED = frozenset({408, 409, 425, 429})
"""4xx statuses that say "later", not "never"; every 5xx is retried too."""


def no_longer_configured(url: object) -> Dropped:
    """Why an event for a webhook routing.yaml no longer lists is dropped: it was removed, so
    its receiver is not to be sent anything more (its events were queued before)."""
    where = origin(url) if isinstance(url, str) else "an unknown receiver"
    return Dropped(f"webhook {where} is no longer configured in routing.yaml")


class RemovedWebhooks:
    """The sender of webhook messages when routing.yaml names no webhook any more."""

    async def send(self, message: OutboundMessage) -> None:
        raise no_longer_configured(message.payload.get("url"))


class WebhookSender:
    """Sends outbox messages of platform `webhook` (bot/core/case_events.py)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        secrets: Mapping[str, str],
        clock: Clock,
        *,
        configured: Collection[str] | None = None,
        user_agent: str = "loopkeeper-webhooks",
        timeout: aiohttp.ClientTimeout = TIMEOUT,
    ) -> None:
        """`configured`: the URLs routing.yaml lists (None: those with a secret)."""
        self._configured = frozenset(secrets if configured is None else configured)
        self._session = session
        self._secrets = {url: secret.encode() for url, secret in secrets.items()}
        self._clock = clock
        self._user_agent = user_agent
        self._timeout = timeout

    async def send(self, message: OutboundMessage) -> None:
        url, body = message.payload.get("url"), message.payload.get("body")
        if not isinstance(url, str) or not isinstance(body, str):
            raise DeliveryError("not a webhook delivery (no url or body)", permanent=True)
        if url not in self._configured:
            raise no_longer_configured(url)
        where = origin(url)
        secret = self._secrets.get(url)
        if secret is None:
            raise DeliveryError(f"no secret for the webhook to {where}: its secret_env is unset")
        raw = body.encode()
        timestamp = int(self._clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._user_agent,
            "X-Loopkeeper-Event-Id": str(message.payload.get("event_id", "")),
            "X-Loopkeeper-Event-Type": str(message.payload.get("type", "")),
            "X-Loopkeeper-Timestamp": str(timestamp),
            "X-Loopkeeper-Signature": sign(secret, timestamp, raw),
        }
        try:
            async with self._session.post(
                url, data=raw, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                status = response.status
                retry_after = parse_retry_after(
                    response.headers.get("Retry-After"), self._clock.now()
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise DeliveryError(f"cannot reach {where}: {type(error).__name__}") from error
        if 200 <= status < 300:
            return
        if status >= 500 or status in RETRIED:
            raise DeliveryError(f"HTTP {status} from {where}", retry_after=retry_after)
        # A redirect is not followed (the event would go where routing.yaml does not say),
        # and another 4xx will answer the same to the same request.
        raise DeliveryError(f"HTTP {status} from {where}: fix the receiver", permanent=True)


def origin(url: str) -> str:
    """The URL without its path or query, for logs: those may carry a token."""
    parsed = URL(url)
    port = f":{parsed.explicit_port}" if parsed.explicit_port else ""
    return f"{parsed.scheme}://{parsed.host}{port}/…"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
