"""People of routing.yaml ↔ Slack users: ids from the file, else looked up by e-mail and cached."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ports import CaseStore, Clock
from bot.routing import Routing

log = logging.getLogger(__name__)

PLATFORM = "slack"


class SlackDirectory:
    def __init__(
        self, routing: Routing, store: CaseStore, client: AsyncWebClient, clock: Clock
    ) -> None:
        self._routing = routing
        self._store = store
        self._client = client
        self._clock = clock

    async def slack_user(self, person_id: str) -> str | None:
        person = self._routing.person(person_id)
        if person is None:
            return None
        if person.slack:
            return person.slack
        if not person.email:
            return None
        # Only hits are trusted from the cache: someone not found may have joined Slack since.
        known, user_id = await self._store.cached_user(person_id, PLATFORM)
        if known and user_id:
            return user_id
        try:
            found = await self._client.users_lookupByEmail(email=person.email)
            user_id = (found.get("user") or {}).get("id")
        except SlackApiError as error:
            if (error.response.get("error") if error.response else None) != "users_not_found":
                log.warning("looking up %s in Slack failed: %s", person_id, error)
                return None
            user_id = None
        await self._store.cache_user(person_id, PLATFORM, user_id, self._clock.now())
        return user_id

    async def person_for_slack_user(self, user_id: str) -> str | None:
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
