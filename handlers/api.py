"""`POST /api/v1/reports`: AI apps forward their own thumbs-down here."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.attribution import UnknownSystem
from bot.intake import Confirmation, FiledReport, IntakeError, IntakeService
from bot.models import Channel, FlaggedOutput, ReportDraft, Reporter, Severity
from bot.ports import Clock
from bot.routing import Routing
from handlers.slack.confirm import confirmation
from handlers.slack.parse import output_key, parse_permalink


class ApiReporter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slack_id: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _identified(self) -> ApiReporter:
        if not (self.slack_id or self.email):
            raise ValueError("give slack_id or email")
        return self


class ApiReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str = Field(min_length=1, max_length=100)
    reporter: ApiReporter
    system: str | None = Field(None, max_length=100)
    severity: Severity | None = None
    comment: str | None = Field(None, max_length=10_000)
    expected: str | None = Field(None, max_length=10_000)
    output_text: str | None = Field(None, max_length=100_000)
    message_link: str | None = Field(None, max_length=2000)
    trace_id: str | None = Field(None, max_length=200)
    prompt_version: str | None = Field(None, max_length=200)
    model: str | None = Field(None, max_length=200)
    idempotency_key: str | None = Field(None, max_length=200)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _error(status: int, message: str, field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return web.json_response(body, status=status)


def reports_route(
    token: str, routing: Routing, intake: IntakeService, clock: Clock
) -> Callable[[web.Request], Awaitable[web.Response]]:
    expected_header = f"Bearer {token}".encode()

    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected_header):
            return _error(401, "missing or wrong bearer token")
        try:
            raw = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            return _error(400, f"body is not valid JSON: {error}")
        if not isinstance(raw, dict):
            return _error(400, "body must be a JSON object")
        try:
            body = ApiReport.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            problems = [{"field": _field(e["loc"]), "message": e["msg"]} for e in error.errors()]
            return web.json_response(
                {"error": first["msg"], "field": _field(first["loc"]), "problems": problems},
                status=422,
            )
        if routing.category(body.category) is None:
            known = ", ".join(c.id for c in routing.categories)
            return _error(422, f"unknown category '{body.category}' (known: {known})", "category")
        draft, reply_channel = _draft(body)
        try:
            filed = await intake.file_report(draft, _confirm(draft, reply_channel, clock))
        except UnknownSystem as error:
            return _error(422, str(error), "system")
        except IntakeError as error:
            return _error(422, str(error), "category")
        if filed is None:
            return web.json_response({"duplicate": True, "idempotency_key": body.idempotency_key})
        return web.json_response(_summary(filed), status=201 if filed.case_created else 200)

    return handle


def _draft(body: ApiReport) -> tuple[ReportDraft, str | None]:
    link = parse_permalink(body.message_link) if body.message_link else None
    if link:
        key = output_key(*link)
    elif body.trace_id:
        key = f"trace:{body.trace_id}"
    elif body.message_link:
        key = f"link:{body.message_link}"
    else:
        key = None
    output = (
        FlaggedOutput(
            key=key,
            platform="slack" if link else "api",
            channel_id=link[0] if link else None,
            message_ts=link[1] if link else None,
            text=body.output_text,
            permalink=body.message_link,
            trace_id=body.trace_id,
            prompt_version=body.prompt_version,
            model=body.model,
        )
        if key
        else None
    )
    who = body.reporter
    reporter = Reporter(
        id=f"slack:{who.slack_id}" if who.slack_id else f"email:{(who.email or '').lower()}",
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
        output=output,
        system_id=body.system,
        dedupe_key=f"api:{body.idempotency_key}" if body.idempotency_key else None,
        reply_channel_id=link[0] if link else None,
    )
    return draft, draft.reply_channel_id


def _confirm(draft: ReportDraft, channel: str | None, clock: Clock) -> Confirmation:
    user = draft.reporter.slack_user_id
    if not user:
        return lambda filed: []
    return lambda filed: [confirmation(filed, user, channel, clock.now())]


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
