"""What the bot does with each Teams activity (plain JSON in, invoke body out): remember where
it came from, then hand it to intake or triage. No botbuilder here; endpoint.py runs it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from bot.core.ports import Clock
from handlers.teams.fields import typed_text_cleaned
from handlers.teams.intake import TeamsIntake
from handlers.teams.parse import conversation_reference, user_of
from handlers.teams.records import TeamsRecords
from handlers.teams.triage import TeamsTriage

log = logging.getLogger(__name__)

REFRESH_AFTER = timedelta(hours=1)


class TeamsActivities:
    def __init__(
        self, store: TeamsRecords, clock: Clock, intake: TeamsIntake, triage: TeamsTriage
    ) -> None:
        self._store = store
        self._clock = clock
        self._intake = intake
        self._triage = triage
        # What this process last wrote per reference, so unchanged ones are not rewritten.
        self._written: dict[str, tuple[tuple[object, ...], datetime]] = {}

    async def handle(self, activity: dict[str, Any]) -> dict[str, Any] | None:
        """Handle one activity; for an invoke, the body to answer with."""
        activity = typed_text_cleaned(activity)
        await self.remember(activity)
        kind = activity.get("type")
        if kind == "invoke":
            return await self._invoke(activity)
        if kind == "message":
            await self._triage.on_message(activity)
        return None

    async def _invoke(self, activity: dict[str, Any]) -> dict[str, Any]:
        name = activity.get("name")
        if name == "composeExtension/fetchTask":
            return await self._intake.fetch_task(activity)
        if name == "composeExtension/submitAction":
            return await self._intake.submit_action(activity)
        if name == "message/submitAction":
            return await self._intake.feedback(activity)
        if name == "adaptiveCard/action":
            return await self._triage.on_action(activity)
        log.info("ignoring Teams invoke %r", name)
        return {}

    async def remember(self, activity: dict[str, Any]) -> None:
        """Store (or refresh) the conversation reference and the sender of an activity."""
        now = self._clock.now()
        conversation = conversation_reference(activity, now)
        if conversation is not None:
            key = f"c:{conversation.id}"
            fingerprint = _fingerprint(conversation.model_dump(exclude={"updated_at"}))
            if self._stale(key, fingerprint, now):
                await self._store.save_teams_conversation(conversation)
                self._written[key] = (fingerprint, now)
        user = user_of(activity, now)
        if user is not None:
            key = f"u:{user.key}"
            fingerprint = _fingerprint(user.model_dump(exclude={"updated_at"}))
            if self._stale(key, fingerprint, now):
                await self._store.save_teams_user(user)
                self._written[key] = (fingerprint, now)

    def _stale(self, key: str, fingerprint: tuple[object, ...], now: datetime) -> bool:
        previous = self._written.get(key)
        return previous is None or previous[0] != fingerprint or now - previous[1] >= REFRESH_AFTER


def _fingerprint(values: dict[str, Any]) -> tuple[object, ...]:
    return tuple(sorted(values.items()))
