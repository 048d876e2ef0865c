"""`POST /api/v1/reports`: AI apps forward their own thumbs-down here.

The route is total: the token is checked before the body is read, the body is parsed with
bounds (bot/core/json_input.py), every invalid field is reported at once (handlers/api_schema.py),
and only a passing database fault answers 5xx, so a client retries exactly when it may help.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from bot.core.attribution import UnknownSystem
from bot.core.filed import Confirmation, FiledReport
from bot.core.intake import IntakeError, IntakeService
from bot.core.log_context import bound
from bot.core.models import Channel, FlaggedOutput, OutboundMessage, ReportDraft, Reporter
from bot.core.output_place import parse_slack_permalink, slack_output_key
from bot.core.ports import Clock
from bot.core.routing_rules import Routing
from handlers.api_common import (
    INVALID,
    IsTransient,
    error_response,
    json_object,
    unavailable,
)
from handlers.api_schema import ApiReport, Problems, validate_report

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
"""Bytes; a report with the full answer (100,000 characters) fits several times over."""

MAX_DEPTH = 16
"""Levels of nesting: a report is an object holding a reporter object, and no more."""

SlackConfirmation = Callable[[FiledReport, str, str | None, datetime], OutboundMessage]
"""The reporter's confirmation in Slack (user, channel, now): given by the composition root, so
this edge imports no other."""


def reports_route(
    token: str,
    routing: Routing,
    intake: IntakeService,
    clock: Clock,
    *,
    is_transient: IsTransient,
    confirm_in_slack: SlackConfirmation,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    expected = token.encode("utf-8")

    async def handle(request: web.Request) -> web.Response:
        with bound(platform="api"):
            return await _handle(request)

    async def _handle(request: web.Request) -> web.Response:
        raw = await json_object(request, expected, max_body=MAX_BODY, max_depth=MAX_DEPTH)
        if isinstance(raw, web.Response):
            return raw
        body, problems = validate_report(raw, routing)
        if body is None:
            return web.json_response(problems.response(), status=INVALID)
        try:
            draft = _draft(body)
        except ValidationError as error:  # the core's own limits, should the schema miss one
            return _core_refusal(error)
        try:
            filed = await intake.file_report(draft, _confirm(draft, clock, confirm_in_slack))
        except UnknownSystem as error:
            return error_response(INVALID, str(error), "system")
        except IntakeError as error:
            return error_response(INVALID, str(error), "category")
        except Exception as error:
            return _failed(error, is_transient)
        if filed is None:
            return web.json_response({"duplicate": True, "idempotency_key": body.idempotency_key})
        return web.json_response(_summary(filed), status=201 if filed.case_created else 200)

    return handle


def _core_refusal(error: ValidationError) -> web.Response:
    problems = Problems()
    for item in error.errors():
        problems.add(".".join(str(part) for part in item["loc"]) or "body", str(item["msg"]))
    return web.json_response(problems.response(), status=INVALID)


def _failed(error: Exception, is_transient: IsTransient) -> web.Response:
    """A report that could not be filed: 503 when trying again may help, else a 4xx (the same
    request would fail the same way, so a 5xx would only invite retries)."""
    if is_transient(error):
        return unavailable(log, "ingest", error)
    log.error("ingest: report refused, it could not be filed: %r", error)
    return error_response(INVALID, f"the report could not be filed ({type(error).__name__})")


def _draft(body: ApiReport) -> ReportDraft:
    link = parse_slack_permalink(body.message_link) if body.message_link else None
    text = body.flagged_text
    if link:
        key = slack_output_key(*link)
    elif body.trace_id:
        key = f"trace:{body.trace_id}"
    elif body.message_link:
        key = f"link:{body.message_link}"
    elif text:  # only the answer itself: the same answer flagged twice is one case
        key = f"output:{hashlib.sha256(text.encode()).hexdigest()[:32]}"
    else:
        key = None
    output = (
        FlaggedOutput(
            key=key,
            platform="slack" if link else "api",
            channel_id=link[0] if link else None,
            message_ts=link[1] if link else None,
            text=text,
            permalink=body.message_link,
            trace_id=body.trace_id,
            prompt_version=body.prompt_version,
            model=body.model,
        )
        if key
        else None
    )
    who = body.reporter
    if who.slack_id:
        reporter_id = f"slack:{who.slack_id}"
    elif who.teams_id:
        reporter_id = f"teams:{who.teams_id}"
    else:
        reporter_id = f"email:{(who.email or '').lower()}"
    reporter = Reporter(
        id=reporter_id,
        slack_user_id=who.slack_id,
        email=who.email,
        display=who.name,
    )
    draft = ReportDraft(
        reporter=reporter,
        channel=Channel.api,
        category_id=body.category,
        severity=body.severity,
        comment=body.comment,
        expected=body.expected,
        input=body.input,
        output=output,
        system_id=body.system,
        dedupe_key=f"api:{body.idempotency_key}" if body.idempotency_key else None,
        reply_channel_id=link[0] if link else None,
    )
    return draft


def _confirm(draft: ReportDraft, clock: Clock, confirm_in_slack: SlackConfirmation) -> Confirmation:
    user, channel = draft.reporter.slack_user_id, draft.reply_channel_id
    if not user:
        return lambda filed: []
    return lambda filed: [confirm_in_slack(filed, user, channel, clock.now())]


def _summary(filed: FiledReport) -> dict[str, Any]:
    case = filed.case
    return {
        "case": case.id,
        "report": filed.report.id,
        "status": case.status.value,
        "system": case.system_id,
        "category": filed.category.id,
        "severity": case.severity.value,
        "owner": filed.owner.id if filed.owner else None,
        "owner_role": case.owner_role.value if case.owner_role else None,
        "case_created": filed.case_created,
        "report_updated": filed.report_updated,
        "reporters": case.report_count,
    }
