"""People of routing.yaml ↔ Slack users: ids from the file, else looked up by e-mail and cached."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.ports import Clock, DirectoryCache
from bot.core.routing_rules import Routing

log = logging.getLogger(__name__)

SLACK = PLATFORM = "slack"
RECHECK_MISSING = timedelta(minutes=10)
"""How long someone not found in Slack stays not found before they are looked up again: they
may join, but a lookup per flag would spend a rate-limited method (and time) for nothing."""


class SlackDirectory:
    def __init__(
        self, routing: Routing, store: DirectoryCache, client: AsyncWebClient, clock: Clock
    ) -> None:
        self._routing = routing
        self._store = store
        self._client = client
        self._clock = clock
        self._found: dict[str, str] = {}
        self._missing: dict[str, datetime] = {}  # person -> when last not found

    async def account(self, person_id: str, platform: str) -> str | None:
        """The person's Slack user id; None for any other platform (not Slack's to answer)."""
        if platform != PLATFORM:
            return None
        user_id, _known = await self._resolve(person_id)
        return user_id

    async def reachable(self, person_id: str) -> bool | None:
        user_id, known = await self._resolve(person_id)
        return True if user_id else (False if known else None)

    async def _resolve(self, person_id: str) -> tuple[str | None, bool]:
        """(Slack user id or None, whether that is Slack's answer): a look-up that failed
        says nothing about the person."""
        person = self._routing.person(person_id)
        if person is None:
            return None, True
        if person.slack:
            return person.slack, True
        if not person.email:
            return None, True
        if person_id in self._found:
            return self._found[person_id], True
        missed = self._missing.get(person_id)
        if missed is not None and self._clock.now() - missed < RECHECK_MISSING:
            return None, True
        # Only hits are trusted from the stored cache: someone not found may have joined since.
        known, user_id = await self._store.cached_user(person_id, PLATFORM)
        if known and user_id:
            self._found[person_id] = user_id
            return user_id, True
        try:
            found = await self._client.users_lookupByEmail(email=person.email)
            user_id = (found.get("user") or {}).get("id")
        except SlackApiError as error:
            if (error.response.get("error") if error.response else None) != "users_not_found":
                log.warning("looking up %s in Slack failed: %s", person_id, error)
                return None, False
            user_id = None
        now = self._clock.now()
        await self._store.cache_user(person_id, PLATFORM, user_id, now)
        if user_id:
            self._found[person_id] = user_id
            self._missing.pop(person_id, None)
        else:
            self._missing[person_id] = now
        return user_id, True

    async def person_behind(self, platform: str, user_id: str) -> str | None:
        if platform != PLATFORM:
            return None
        person = self._routing.person_by_slack_id(user_id)
        if person is not None:
            return person.id
        cached = await self._store.cached_person(PLATFORM, user_id)
        if cached is not None:
            return cached
        try:
            info = await self._client.users_info(user=user_id)
        except SlackApiError as error:
            log.warning("users.info for %s failed: %s", user_id, error)
            return None
        email = ((info.get("user") or {}).get("profile") or {}).get("email")
        person = self._routing.person_by_email(email) if email else None
        if person is None:
            return None
        await self._store.cache_user(person.id, PLATFORM, user_id, self._clock.now())
        return person.id
