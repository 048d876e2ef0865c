"""Case notices for Slack (the core's `Notices` port): what to say about a case, as outbox
messages resolved when they are sent (`sender.py` sends them, `case_delivery.py` resolves them).

The card's location and people's Slack ids are only known at delivery time (the card may not be
posted yet, an e-mail may still need looking up), so these messages carry case and person ids
and `CaseDelivery` turns them into Web API calls. Their texts stay the core's plain words
here: case delivery escapes them into mrkdwn when it sends, so a queued notice never holds
markup and the escaping rule can change without rewriting the outbox.
"""

from __future__ import annotations

from bot.core.models import Case, Channel, OutboundMessage, Report
from bot.core.ports import Clock
from bot.core.surge_record import SurgeRecord

CARD = "loopkeeper.card"
THREAD = "loopkeeper.thread"
DIRECT = "loopkeeper.direct"
REPORTER = "loopkeeper.reporter"
SURGE_CARD = "loopkeeper.surge_card"
SURGE_DIRECT = "loopkeeper.surge_direct"


class SlackNotices:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def _message(self, method: str, key: str, payload: dict[str, object]) -> list[OutboundMessage]:
        return [
            OutboundMessage(
                dedupe_key=f"slack:{key}",
                platform="slack",
                method=method,
                payload=payload,
                next_attempt_at=self._clock.now(),
            )
        ]

    def card(self, case: Case, key: str, *, opening: bool = False) -> list[OutboundMessage]:
        # Only the opening notice may post, so two refreshes racing can't post two cards.
        # "system" tells the pacer (destinations.py) which triage channel the card lands in.
        return self._message(
            CARD, key, {"case_id": case.id, "post": opening, "system": case.system_id}
        )

    def thread(self, case: Case, text: str, key: str) -> list[OutboundMessage]:
        payload: dict[str, object] = {"case_id": case.id, "text": text, "system": case.system_id}
        return self._message(THREAD, key, payload)

    def direct(self, person_id: str, text: str, case: Case, key: str) -> list[OutboundMessage]:
        return self._message(DIRECT, key, {"case_id": case.id, "person": person_id, "text": text})

    def reporter(
        self, report: Report, text: str, case: Case, key: str, *, ask: bool = False
    ) -> list[OutboundMessage]:
        if report.channel is Channel.teams:
            return []  # told where they reported: Teams
        return self._message(
            REPORTER,
            key,
            {
                "case_id": case.id,
                "slack_id": report.reporter_slack_id,
                "email": report.reporter_email,
                "text": text,
                "ask": ask,
            },
        )

    def surge_card(
        self, surge: SurgeRecord, key: str, *, post: bool = False
    ) -> list[OutboundMessage]:
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
        return self._message(
            SURGE_DIRECT,
            key,
            {
                "surge_id": surge.id,
                "system": surge.system_id,
                "person": person_id,
                "text": text,
                "lane": f"surge:{surge.id}",
            },
        )
