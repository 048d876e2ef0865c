"""Case notices for Teams (the core's `Notices` port): what to say about a case, as outbox
messages resolved when `sender.py` sends them (like Slack's).

Who hears what in Teams:
- the case card and its thread: systems with a `triage.teams_channel`;
- direct messages to people of routing.yaml: with Slack on, those with a `teams` id and no
  `slack` id (the rest are Slack's); with Slack off, everyone;
- reporters: those who reported in Teams.

The core writes each notice as plain text, with people's words in it (a question, a note, an
answer); it is turned into inert Teams markdown here, when queued, so the outbox holds what
Teams will render and the confirmation (markdown made by handlers/teams/cards.py) fits beside it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.models import Case, Channel, OutboundMessage, Report
from bot.core.ports import Clock
from bot.core.routing_rules import Routing
from bot.core.surge_record import SurgeRecord
from handlers.teams.card_budget import fit

PLATFORM = "teams"
CARD = "loopkeeper.teams.card"  # case_id, post
THREAD = "loopkeeper.teams.thread"  # case_id, text
DIRECT = "loopkeeper.teams.direct"  # case_id, person, text
REPORTER = "loopkeeper.teams.reporter"  # case_id, reporter, text, ask
SURGE_CARD = "loopkeeper.teams.surge_card"  # surge_id, post
SURGE_DIRECT = "loopkeeper.teams.surge_direct"  # surge_id, person, text
POST = "loopkeeper.teams.post"  # conversation, activity[, lane]: a channel post (digests)

NOTICE_BYTES = 12_000
"""A notice's text on the wire: a long note or question is shortened, not refused by Teams."""


def markdown(text: str) -> str:
    """A notice the core wrote as plain text, as Teams markdown that shows it as written."""
    return fit(text, NOTICE_BYTES)


class TeamsNotices:
    def __init__(self, routing: Routing, clock: Clock, *, slack_enabled: bool) -> None:
        self._routing = routing
        self._clock = clock
        self._slack_enabled = slack_enabled

    def _message(self, method: str, key: str, payload: dict[str, Any]) -> list[OutboundMessage]:
        return [
            OutboundMessage(
                dedupe_key=f"teams:{key}",
                platform=PLATFORM,
                method=method,
                payload=payload,
                next_attempt_at=self._clock.now(),
            )
        ]

    def _triaged_here(self, case: Case) -> bool:
        system = self._routing.system(case.system_id)
        return bool(system and system.triage.teams_channel)

    def card(self, case: Case, key: str, *, opening: bool = False) -> list[OutboundMessage]:
        if not self._triaged_here(case):
            return []
        # Only the opening notice may post, so two refreshes racing can't post two cards.
        # "system" tells the pacer (destinations.py) which conversation the card lands in.
        payload = {"case_id": case.id, "post": opening, "system": case.system_id}
        return self._message(CARD, key, payload)

    def surge_card(
        self, surge: SurgeRecord, key: str, *, post: bool = False
    ) -> list[OutboundMessage]:
        system = self._routing.system(surge.system_id)
        if not (system and system.triage.teams_channel):
            return []
        return self._message(
            SURGE_CARD,
            key,
            {
                "surge_id": surge.id,
                "system": surge.system_id,
                "post": post,
                "lane": f"surge:{surge.id}",
            },
        )

    def surge_direct(
        self, person_id: str, text: str, surge: SurgeRecord, key: str
    ) -> list[OutboundMessage]:
        if not self.reaches(person_id):
            return []
        payload = {
            "surge_id": surge.id,
            "system": surge.system_id,
            "person": person_id,
            "text": markdown(text),
            "lane": f"surge:{surge.id}",  # after the surge card: the DM links to it
        }
        return self._message(SURGE_DIRECT, key, payload)

    def thread(self, case: Case, text: str, key: str) -> list[OutboundMessage]:
        if not self._triaged_here(case):
            return []
        payload = {"case_id": case.id, "text": markdown(text), "system": case.system_id}
        return self._message(THREAD, key, payload)

    def direct(self, person_id: str, text: str, case: Case, key: str) -> list[OutboundMessage]:
        if not self.reaches(person_id):
            return []
        payload = {
            "case_id": case.id,
            "person": person_id,
            "text": markdown(text),
            "system": case.system_id,
        }
        return self._message(DIRECT, key, payload)

    def reporter(
        self, report: Report, text: str, case: Case, key: str, *, ask: bool = False
    ) -> list[OutboundMessage]:
        if report.channel is not Channel.teams and not report.reporter_id.startswith("teams:"):
            return []  # told where they reported
        return self._message(
            REPORTER,
            key,
            {
                "case_id": case.id,
                "reporter": report.reporter_id,
                "text": markdown(text),
                "ask": ask,
                "system": case.system_id,
            },
        )

    def reaches(self, person_id: str) -> bool:
        """Whether Teams (not Slack) is where this person gets direct messages."""
        person = self._routing.person(person_id)
        if person is None:
            return False
        if not self._slack_enabled:
            return bool(person.teams or person.email)
        return bool(person.teams) and not person.slack


def post_message(
    key: str, conversation_id: str, activity: dict[str, Any], now: datetime, lane: str | None = None
) -> OutboundMessage:
    """An outbox message that posts `activity` to a Teams channel or chat."""
    payload: dict[str, Any] = {"conversation": conversation_id, "activity": activity}
    if lane:
        payload["lane"] = lane
    return OutboundMessage(
        dedupe_key=f"teams:{key}",
        platform=PLATFORM,
        method=POST,
        payload=payload,
        next_attempt_at=now,
    )
