"""A DM about a case that nobody can receive: said in the case's thread instead, once.

Someone in routing.yaml with no Slack id and no account under their e-mail cannot be sent a
DM. It used to be dead-lettered, and an SLA breach meant for them went nowhere anyone looks;
the case's thread is where the people working the case will see it, and see who missed it.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.mrkdwn import escape
from bot.core.outbox import DeliveryError
from handlers.slack import budget

log = logging.getLogger(__name__)

UNREACHED_EVENT = "loopkeeper_unreached"
"""Message metadata on the thread line, carrying the DM's outbox key: how a retry finds it."""


def unreached_line(name: str, text: str) -> str:
    """The thread line, as inert mrkdwn: the name is routing.yaml's, the text may quote anyone."""
    said = (
        f"⚠️ {name} could not be reached on Slack (no account found for them), "
        f"so this goes here: {text}"
    )
    return escape(said, budget.MESSAGE_TEXT)


async def unreached(
    client: AsyncWebClient,
    card: tuple[str, str] | None,
    triage_channel: str | None,
    person: tuple[str, str],
    text: str,
    *,
    key: str,
    retry: bool,
) -> None:
    """Deliver a DM about a case to `person` (id, name), whom Slack does not know, in the case's
    thread (`card`: where its card is). No thread in Slack: dead-lettered, as before."""
    person_id, name = person
    if card is None:
        if triage_channel:
            raise DeliveryError("the card is not posted yet")  # its thread is where this goes
        raise DeliveryError(f"{person_id} has no Slack account we can find", permanent=True)
    await say_in_thread(client, card, name, text, key=key, retry=retry)
    log.warning(
        "%s has no Slack account we can find: their DM was said in the case's thread", person_id
    )


async def say_in_thread(
    client: AsyncWebClient,
    thread: tuple[str, str],
    name: str,
    text: str,
    *,
    key: str,
    retry: bool,
) -> None:
    """Post the DM meant for `name` in the case's `thread` (channel, ts), once per DM `key`:
    a retry first looks for the line a lost answer left."""
    channel, ts = thread
    if retry and await _said(client, channel, ts, key):
        return
    await client.chat_postMessage(
        channel=channel,
        thread_ts=ts,
        text=unreached_line(name, text),
        metadata={"event_type": UNREACHED_EVENT, "event_payload": {"key": key}},
    )


async def _said(client: AsyncWebClient, channel: str, ts: str, key: str) -> bool:
    """Whether the thread holds the line for `key`. Unreadable: False (said twice beats never)."""
    try:
        page = await client.conversations_replies(
            channel=channel, ts=ts, limit=200, include_all_metadata=True
        )
    except SlackApiError as error:
        log.warning("could not look for a line in thread %s/%s: %s", channel, ts, error)
        return False
    for message in page.get("messages") or []:
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == UNREACHED_EVENT and (
            (metadata.get("event_payload") or {}).get("key") == key
        ):
            return True
    return False
