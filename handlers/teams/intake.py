"""Teams intake: the `reportAiOutput` message extension (fetchTask → form → submitAction) and
the Teams AI feedback loop (`message/submitAction`). Parse, call the core, answer the invoke."""

from __future__ import annotations

import logging
from typing import Any

from bot.core.filed import Confirmation, FiledReport
from bot.core.intake import IntakeError, IntakeService
from bot.core.models import Channel, OutboundMessage, ReportDraft, Severity
from bot.core.ports import Clock
from bot.core.routing_rules import Routing
from handlers.teams import cards, notices
from handlers.teams.fields import id_of
from handlers.teams.parse import (
    conversation_id,
    feedback_output,
    feedback_text,
    message_output,
    message_text,
    reporter,
)

log = logging.getLogger(__name__)

COMMAND = "reportAiOutput"
FORM_TITLE = "Report AI output"
FEEDBACK_CATEGORY = "other"
ANONYMOUS = "loopkeeper couldn't tell who sent this report, so it was not filed."


class TeamsIntake:
    def __init__(self, routing: Routing, intake: IntakeService, clock: Clock) -> None:
        self.routing = routing
        self.intake = intake
        self.clock = clock

    async def fetch_task(self, activity: dict[str, Any]) -> dict[str, Any]:
        """The message extension was opened on a message: show the report form."""
        value = _dict(activity.get("value"))
        if value.get("commandId") != COMMAND:
            log.info("ignoring unknown message extension command %r", value.get("commandId"))
            return cards.task_message("loopkeeper doesn't know that command.")
        excerpt = message_text(_dict(value.get("messagePayload")))
        return cards.task_continue(cards.report_form(self.routing, excerpt=excerpt), FORM_TITLE)

    async def submit_action(self, activity: dict[str, Any]) -> dict[str, Any]:
        """The form was submitted: validate it (errors go back into the form), file the report."""
        value = _dict(activity.get("value"))
        if value.get("commandId") != COMMAND:
            log.info("ignoring unknown message extension command %r", value.get("commandId"))
            return {}
        data = {k: str(v) for k, v in _dict(value.get("data")).items() if v is not None}
        payload = _dict(value.get("messagePayload"))
        conversation = conversation_id(activity)
        output = message_output(conversation, payload) if conversation else None
        category = self.routing.category(data.get(cards.FORM_CATEGORY, ""))
        errors: dict[str, str] = {}
        if category is None:
            errors[cards.FORM_CATEGORY] = "Choose what kind of problem this is."
        chosen = data.get(cards.FORM_SEVERITY) or cards.SEVERITY_DEFAULT
        severity = None if chosen == cards.SEVERITY_DEFAULT else _severity(chosen)
        if chosen != cards.SEVERITY_DEFAULT and severity is None:
            errors[cards.FORM_SEVERITY] = "Choose a severity from the list."
        if category and severity and severity.rank < category.severity.rank:
            errors[cards.FORM_SEVERITY] = (
                f"“{category.label}” is at least {category.severity.value}; "
                "you can raise the severity, not lower it."
            )
        if output is None and not data.get(cards.FORM_WRONG, "").strip():
            errors[cards.FORM_WRONG] = "Describe what happened so the owner can reproduce it."
        excerpt = output.text if output else None
        if errors or category is None:
            form = cards.report_form(self.routing, excerpt=excerpt, values=data, errors=errors)
            return cards.task_continue(form, FORM_TITLE)
        who = reporter(_dict(activity.get("from")))
        if who is None:
            log.info("Teams report refused: the activity names no sender")
            return cards.task_message(ANONYMOUS)
        draft = ReportDraft(
            reporter=who,
            channel=Channel.teams,
            category_id=category.id,
            severity=severity,
            comment=data.get(cards.FORM_WRONG) or None,
            expected=data.get(cards.FORM_EXPECTED) or None,
            output=output,
            dedupe_key=_dedupe_key(activity),
        )
        try:
            filed = await self.intake.file_report(draft, self._confirm())
        except IntakeError as error:
            form = cards.report_form(
                self.routing, excerpt=excerpt, values=data, errors={"": str(error)}
            )
            return cards.task_continue(form, FORM_TITLE)
        if filed is None:
            return cards.task_message("Thanks, that report was already filed.")
        return cards.task_message(_plain(cards.confirmation_text(filed)))

    async def feedback(self, activity: dict[str, Any]) -> dict[str, Any]:
        """Thumbs-down (with its feedback text) on an AI answer of an app in this Teams app."""
        value = _dict(activity.get("value"))
        if value.get("actionName") != "feedback":
            log.info("ignoring message/submitAction %r", value.get("actionName"))
            return {}
        action_value = _dict(value.get("actionValue"))
        if str(action_value.get("reaction", "")).lower() != "dislike":
            return {}  # a like is not a flag
        category = (
            FEEDBACK_CATEGORY
            if self.routing.category(FEEDBACK_CATEGORY)
            else self.routing.categories[-1].id
        )
        who = reporter(_dict(activity.get("from")))
        if who is None:
            log.info("Teams feedback ignored: the activity names no sender")
            return {}
        draft = ReportDraft(
            reporter=who,
            channel=Channel.teams,
            category_id=category,
            comment=feedback_text(action_value),
            output=feedback_output(activity),
            dedupe_key=_dedupe_key(activity),
        )
        await self.intake.file_report(draft, self._confirm())
        return {}

    def _confirm(self) -> Confirmation:
        def confirm(filed: FiledReport) -> list[OutboundMessage]:
            return [
                OutboundMessage(
                    dedupe_key=f"teams:confirm:{filed.report.id}:"
                    f"{filed.report.updated_at.isoformat()}",
                    platform=notices.PLATFORM,
                    method=notices.REPORTER,
                    payload={
                        "case_id": filed.case.id,
                        "reporter": filed.report.reporter_id,
                        "text": cards.confirmation_text(filed),
                        "ask": False,
                    },
                    next_attempt_at=self.clock.now(),
                )
            ]

        return confirm


def _dedupe_key(activity: dict[str, Any]) -> str | None:
    activity_id = id_of(activity.get("id"))
    return f"teams:invoke:{activity_id}" if activity_id else None


def _severity(value: str) -> Severity | None:
    try:
        return Severity(value)
    except ValueError:
        return None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _plain(text: str) -> str:
    return text.replace("**", "").replace("`", "")
