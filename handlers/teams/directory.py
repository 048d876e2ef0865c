"""People of routing.yaml ↔ Teams users: the `teams` id from the file, else found by e-mail
(from member lookups of the Bot Connector) and cached in the directory table, like Slack's."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.core.outbox import DeliveryError
from bot.core.ports import Clock, Directory
from bot.core.routing_rules import Routing
from handlers.teams.connector import BotConnector
from handlers.teams.records import TEAMS, TeamsAccounts, TeamsUser

log = logging.getLogger(__name__)

PLATFORM = TEAMS
MISS_RETRY = timedelta(hours=1)
LOOKUP_TIMEOUT = 3.0  # seconds


class TeamsDirectory:
    def __init__(
        self, routing: Routing, store: TeamsAccounts, connector: BotConnector, clock: Clock
    ) -> None:
        self._routing = routing
        self._store = store
        self._connector = connector
        self._clock = clock
        self._misses: dict[str, datetime] = {}

    async def teams_user(self, person_id: str) -> str | None:
        """The person's Teams user id (29:…): from routing.yaml, the cache, or a team's members."""
        person = self._routing.person(person_id)
        if person is None:
            return None
        if person.teams:
            return person.teams
        if not person.email:
            return None
        known, user_id = await self._store.cached_user(person_id, PLATFORM)
        if known and user_id:
            return user_id
        missed = self._misses.get(person_id)
        if missed is not None and self._clock.now() - missed < MISS_RETRY:
            return None
        user_id = await self._search(person.email)
        if user_id is None:
            self._misses[person_id] = self._clock.now()
            return None
        await self._store.cache_user(person_id, PLATFORM, user_id, self._clock.now())
        return user_id

    async def _search(self, email: str) -> str | None:
        """Look for an e-mail among the members of the teams the triage channels are in."""
        wanted = email.casefold()
        seen: set[str] = set()
        for system in self._routing.systems:
            channel = system.triage.teams_channel
            if not channel:
                continue
            conversation = await self._store.teams_conversation(channel)
            if conversation is None:
                continue
            team = conversation.team_id or conversation.id
            if team in seen:
                continue
            seen.add(team)
            try:
                members = await self._connector.members(conversation.service_url, team)
            except DeliveryError as error:
                log.warning("listing the members of %s failed: %s", team, error)
                continue
            for member in members:
                if _email(member).casefold() == wanted and member.get("id"):
                    return str(member["id"])
        return None

    async def person_for(self, activity: dict[str, Any]) -> str | None:
        """The routing.yaml person behind the sender of an activity, or None.

        By `teams` id (Teams user id or Entra object id), then the cache, then the e-mail of
        the member lookup the Bot Connector answers (cached for next time).
        """
        sender = activity.get("from") or {}
        user_id = str(sender.get("id") or "")
        aad = sender.get("aadObjectId")
        for candidate in (user_id, aad):
            person = self._routing.person_by_teams_id(str(candidate)) if candidate else None
            if person is not None:
                return person.id
        if not user_id:
            return None
        cached = await self._store.cached_person(PLATFORM, user_id)
        if cached is not None:
            return cached
        email = sender.get("email") or sender.get("userPrincipalName")
        if not email:
            email = await self._lookup_email(activity, user_id)
        person = self._routing.person_by_email(str(email)) if email else None
        if person is None:
            return None
        await self._store.cache_user(person.id, PLATFORM, user_id, self._clock.now())
        return person.id

    async def _lookup_email(self, activity: dict[str, Any], user_id: str) -> str | None:
        service_url = activity.get("serviceUrl")
        conversation = (activity.get("conversation") or {}).get("id")
        if not service_url or not conversation:
            return None
        channel_data = activity.get("channelData") or {}
        team = (
            (channel_data.get("team") or {}).get("id") if isinstance(channel_data, dict) else None
        )
        where = str(team or conversation).split(";messageid=", 1)[0]
        try:
            # On an invoke's path (Teams waits 5 s at most): better unknown than too late.
            member = await asyncio.wait_for(
                self._connector.member(str(service_url), where, user_id), LOOKUP_TIMEOUT
            )
        except (DeliveryError, TimeoutError) as error:
            log.warning("looking up Teams member %s failed: %r", user_id, error)
            return None
        if member is None:
            return None
        email = _email(member)
        if email:
            sender = activity.get("from") or {}
            await self._store.save_teams_user(
                TeamsUser(
                    key=str(sender.get("aadObjectId") or user_id),
                    user_id=user_id,
                    aad_object_id=sender.get("aadObjectId") or member.get("aadObjectId"),
                    name=sender.get("name") or member.get("name"),
                    email=email,
                    service_url=str(service_url),
                    tenant_id=(activity.get("conversation") or {}).get("tenantId"),
                    bot_id=(activity.get("recipient") or {}).get("id"),
                    updated_at=self._clock.now(),
                )
            )
        return email or None


def _email(member: dict[str, Any]) -> str:
    return str(member.get("email") or member.get("userPrincipalName") or "")


class ReachableDirectory:
    """Slack's directory and Teams', for intake's routing and escalation: an owner Slack
    cannot reach but Teams can (a `teams` id and no `slack` one) counts as reachable, so their
    cases are not handed to the conductor."""

    def __init__(self, slack: Directory, teams: TeamsDirectory, reaches: Callable[[str], bool]):
        self._slack = slack
        self._teams = teams
        self._reaches = reaches

    async def account(self, person_id: str, platform: str) -> str | None:
        if platform == PLATFORM:
            return await self._teams.teams_user(person_id) if self._reaches(person_id) else None
        return await self._slack.account(person_id, platform)

    async def person_behind(self, platform: str, user_id: str) -> str | None:
        return await self._slack.person_behind(platform, user_id)

    async def reachable(self, person_id: str) -> bool | None:
        if self._reaches(person_id) and await self._teams.teams_user(person_id) is not None:
            return True
        return await self._slack.reachable(person_id)


class TeamsReach:
    """With Slack off, who Teams can reach, for escalation steps: people Teams messages at all
    (`reaches`) whose Teams id is in routing.yaml or found by e-mail among the members."""

    def __init__(self, teams: TeamsDirectory, reaches: Callable[[str], bool]):
        self._teams = teams
        self._reaches = reaches

    async def reachable(self, person_id: str) -> bool | None:
        return self._reaches(person_id) and await self._teams.teams_user(person_id) is not None
