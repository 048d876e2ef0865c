"""Bolt listeners for intake: parse the payload, call the core, render the answer."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.background import Background, Later
from bot.core.filed import Confirmation
from bot.core.inbox import Handler
from bot.core.intake import IntakeService
from bot.core.models import Channel, FlaggedOutput, InboxItem, ReportDraft, Severity
from bot.core.mrkdwn import escape
from bot.core.ports import CaseReads, Clock, Directory
from bot.core.routing_rules import Routing
from handlers.slack import blocks
from handlers.slack.confirm import confirmation
from handlers.slack.directory import SLACK
from handlers.slack.fetch import RecentMessages, fetch_outputs
from handlers.slack.parse import is_negative_feedback, message_output, reporter
from handlers.slack.permalink import Permalinks
from handlers.slack.queued import QueuedFlag, QueueFlag
from handlers.slack.thread_input import ThreadInputs
from handlers.slack.triage import cases_text
from handlers.slack.window import ANSWER_BUDGET, open_modal

log = logging.getLogger(__name__)

SHORTCUT = "report_ai_output"
COMMAND = "/loopkeeper"
FEEDBACK_CATEGORY = "other"


class SlackIntake:
    """The intake listeners, holding what they need instead of reaching for globals."""

    def __init__(
        self,
        routing: Routing,
        intake: IntakeService,
        store: CaseReads,
        clock: Clock,
        directory: Directory | None = None,
        permalinks: Permalinks | None = None,
        *,
        background: Background,
        queue: QueueFlag,
    ) -> None:
        self.routing = routing
        self.intake = intake
        self.store = store
        self.clock = clock
        self.directory = directory
        self.permalinks = permalinks  # else made with the first Web API client given
        self.background = background  # Web API calls after the ack
        self.queue = queue  # flags committed to the inbox before the ack, filed after
        self._recent = RecentMessages()
        self._threads = ThreadInputs(clock)  # flagged replies' prompts: their threads' parents

    def register(self, app: AsyncApp) -> None:
        app.event("reaction_added")(self.on_reaction)
        app.shortcut(SHORTCUT)(self.on_shortcut)
        app.command(COMMAND)(self.on_command)
        app.view_submission(blocks.REPORT_MODAL)(self.on_report_submitted)
        app.block_action(re.compile(".*"), matchers=[_is_feedback_buttons])(self.on_feedback_button)
        # Removed reactions are expected traffic, not errors (a report stays filed).
        app.event("reaction_removed")(_ignore)

    # --- reactions -------------------------------------------------------------------------

    async def on_reaction(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Socket Mode path: over HTTP, reactions go through the inbox (see app.py)."""
        await self.file_reaction(event, str(body.get("event_id") or event.get("event_ts")), client)

    def reaction_category(self, event: dict[str, Any]) -> str | None:
        """The category a reaction files, or None when it files nothing."""
        item = event.get("item") or {}
        if item.get("type") != "message":
            return None
        return self.routing.reactions.get(str(event.get("reaction", "")).split("::")[0])

    async def file_reaction(
        self, event: dict[str, Any], event_id: str, client: AsyncWebClient
    ) -> set[tuple[str, str]]:
        return await self.file_reactions([(event, event_id)], client)

    async def file_reactions(
        self, reactions: list[tuple[dict[str, Any], str]], client: AsyncWebClient
    ) -> set[tuple[str, str]]:
        """File reactions (event, event_id): their messages read together, the reports
        filed in one transaction. Returns the messages (channel, ts) Slack would not give
        now: filed bare, to be read again later."""
        if self.permalinks is None:
            self.permalinks = Permalinks(client)
        flagged = [
            (event, event_id, where, category)
            for event, event_id in reactions
            if (where := _flagged(event)) and (category := self.reaction_category(event))
        ]
        wanted = [where for _, _, where, _ in flagged]
        unread: set[tuple[str, str]] = set()
        outputs = await fetch_outputs(client, wanted, self.permalinks, self._recent, unread)
        outputs = await self._threads.fill(client, outputs)
        flags = [
            self._reaction_flag(event, event_id, category, outputs[where])
            for event, event_id, where, category in flagged
        ]
        if flags:
            await self.intake.file_reports(flags)
        return unread

    def _reaction_flag(
        self, event: dict[str, Any], event_id: str, category: str, output: FlaggedOutput
    ) -> tuple[ReportDraft, Confirmation]:
        user, channel = str(event["user"]), str(event["item"]["channel"])
        draft = ReportDraft(
            reporter=reporter(user),
            channel=Channel.slack_reaction,
            category_id=category,
            output=output,
            reply_channel_id=channel,
            dedupe_key=f"slack:event:{event_id}",
        )
        return draft, self._confirm(user, channel)

    # --- shortcut and slash command → modal -------------------------------------------------

    async def on_shortcut(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id")
        ts = message.get("ts")
        if isinstance(channel, str) and isinstance(ts, str):
            # The submission usually comes to this process within minutes: it finds the
            # message here instead of reading it back from Slack.
            top_level = message.get("thread_ts", ts) == ts
            link = self.permalinks.known(channel, ts) if self.permalinks and top_level else None
            self._recent.put((channel, ts), message_output(channel, message, permalink=link))
        # A reference, never the text: private_metadata holds 3,000 characters, about 485
        # of Japanese once JSON has escaped them.
        metadata = {"src": "shortcut", "channel": channel, "ts": ts}
        text = message.get("text") if isinstance(message.get("text"), str) else None
        view = blocks.report_modal(self.routing, metadata, free_form=False, excerpt=text)
        await ack()
        open_modal(self.background, client, body.get("trigger_id"), view)

    async def on_command(
        self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        words = str(command.get("text") or "").strip()
        verb, _, rest = words.partition(" ")
        verb = verb.lower()
        if verb == "report":
            metadata = {"src": "command", "channel": command.get("channel_id")}
            view = blocks.report_modal(
                self.routing, metadata, free_form=True, initial_text=rest.strip() or None
            )
            await ack()
            open_modal(self.background, client, command.get("trigger_id"), view)
        elif verb == "mine":
            items = await self.store.reports_by(reporter(command["user_id"]).id)
            await ack(text=blocks.mine_text(items, self.routing), response_type="ephemeral")
        elif verb == "cases":

            async def answer_later(text: str) -> None:
                await respond(text=text, response_type="ephemeral")

            # Who is asking may take a users.info call: answered in the ack when it is quick.
            text = await self.background.answer_or_later(
                self._my_cases(command["user_id"]), ANSWER_BUDGET, answer_later, "cases"
            )
            if isinstance(text, Later):
                await ack()
            else:
                await ack(text=text, response_type="ephemeral")
        elif verb in ("", "help"):
            await ack(text=blocks.help_text(self.routing), response_type="ephemeral")
        else:
            await ack(
                text=f"I don't know `{escape(verb, 40)}`. Try `/loopkeeper help`.\n\n"
                + blocks.help_text(self.routing),
                response_type="ephemeral",
            )

    async def on_report_submitted(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        user = body["user"]["id"]
        values = _view_values(view)
        try:
            metadata = json.loads(view.get("private_metadata") or "{}")
        except json.JSONDecodeError:
            metadata = {}
        if not isinstance(metadata, dict):
            metadata = {}
        category = self.routing.category(values.get("category") or "")
        free_form = metadata.get("src") == "command"
        errors: dict[str, str] = {}
        if category is None:
            errors["category"] = "Choose what kind of problem this is."
        severity_value = values.get("severity") or blocks.SEVERITY_DEFAULT
        severity = None if severity_value == blocks.SEVERITY_DEFAULT else Severity(severity_value)
        if category and severity and severity.rank < category.severity.rank:
            errors["severity"] = (
                f"“{category.label}” is at least {category.severity.value}; "
                "you can raise the severity, not lower it."
            )
        if free_form and not (values.get("wrong") or "").strip():
            errors["wrong"] = "Describe what happened so the owner can reproduce it."
        if errors or category is None:
            await ack(response_action="errors", errors=errors)
            return
        channel, ts = metadata.get("channel"), metadata.get("ts")
        if ts is None and isinstance(metadata.get("message"), dict):
            ts = metadata["message"].get("ts")  # a modal opened before the upgrade: carried it
        channel = channel if isinstance(channel, str) else None
        read = (channel, ts) if not free_form and channel and isinstance(ts, str) else None
        draft = ReportDraft(
            reporter=reporter(user),
            channel=Channel.slack_command if free_form else Channel.slack_shortcut,
            category_id=category.id,
            severity=severity,
            comment=values.get("wrong"),
            expected=values.get("expected"),
            reply_channel_id=channel,
            dedupe_key=f"slack:view:{view.get('id')}:{view.get('hash')}",
        )
        await self.queue(QueuedFlag(draft, read))
        await ack()

    def queued_flags(self, client: AsyncWebClient) -> Handler:
        """The inbox worker's handler for flags queued by these listeners."""

        async def handle(item: InboxItem) -> None:
            await self.file_queued(QueuedFlag.of(item), client)

        return handle

    async def file_queued(self, flag: QueuedFlag, client: AsyncWebClient) -> None:
        draft = flag.draft
        if flag.read is not None:
            if self.permalinks is None:
                self.permalinks = Permalinks(client)
            outputs = await fetch_outputs(client, [flag.read], self.permalinks, self._recent)
            draft = draft.model_copy(update={"output": outputs[flag.read]})
        if draft.output is not None and draft.output.platform == "slack":
            [output] = (await self._threads.fill(client, {0: draft.output})).values()
            draft = draft.model_copy(update={"output": output})
        user = draft.reporter.slack_user_id or draft.reporter.id
        await self.intake.file_report(draft, self._confirm(user, draft.reply_channel_id))

    async def _my_cases(self, user_id: str) -> str:
        person = await self.directory.person_behind(SLACK, user_id) if self.directory else None
        if person is None:
            return "You aren't in routing.yaml as anyone's owner, so no cases are routed to you."
        mine = [
            c for c in await self.store.list_cases() if c.owner == person and not c.status.is_closed
        ]
        return cases_text(mine, self.routing, self.clock.now())

    # --- feedback buttons of an AI assistant in this app --------------------------------------

    async def on_feedback_button(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]
    ) -> None:
        message = body.get("message") or {}
        if not is_negative_feedback(action, message):
            await ack()
            return
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id"
        )
        category = (
            FEEDBACK_CATEGORY
            if self.routing.category(FEEDBACK_CATEGORY)
            else self.routing.categories[-1].id
        )
        output = message_output(channel, message) if channel and message else None
        draft = ReportDraft(
            reporter=reporter(user),
            channel=Channel.slack_feedback_button,
            category_id=category,
            output=output,
            reply_channel_id=channel,
            dedupe_key=f"slack:action:{user}:{action.get('action_ts')}",
        )
        await self.queue(QueuedFlag(draft, None))
        await ack()

    # --- shared --------------------------------------------------------------------------

    def _confirm(self, user: str, channel: str | None) -> Confirmation:
        return lambda filed: [confirmation(filed, user, channel, self.clock.now())]


def _view_values(view: dict[str, Any]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        element = actions.get("value") or {}
        if element.get("type") == "static_select":
            found[block_id] = (element.get("selected_option") or {}).get("value")
        else:
            found[block_id] = element.get("value")
    return found


async def _ignore() -> None:
    return None


async def _is_feedback_buttons(body: dict[str, Any]) -> bool:
    actions = body.get("actions") or []
    return bool(actions) and actions[0].get("type") == "feedback_buttons"


def _flagged(event: dict[str, Any]) -> tuple[str, str] | None:
    """(channel, ts) of the message a reaction flags; None when the event lacks one."""
    item = event.get("item") or {}
    channel, ts, user = item.get("channel"), item.get("ts"), event.get("user")
    return (str(channel), str(ts)) if channel and ts and user else None
