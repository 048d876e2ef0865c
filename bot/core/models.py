"""Domain models: what a report and a case are, independent of any platform or database."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.core.limits import MAX_KEY, MAX_URL, check_id, clean_text


class Severity(enum.StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @classmethod
    def highest(cls, *severities: Severity) -> Severity:
        return max(severities, key=lambda s: s.rank)


_SEVERITY_RANK = {Severity.low: 0, Severity.medium: 1, Severity.high: 2, Severity.critical: 3}


class Role(enum.StrEnum):
    validation = "validation"
    governance = "governance"
    prompt = "prompt"
    platform = "platform"
    conductor = "conductor"


class CaseStatus(enum.StrEnum):
    new = "new"
    acknowledged = "acknowledged"
    needs_info = "needs_info"
    resolved = "resolved"
    wont_fix = "wont_fix"
    duplicate = "duplicate"

    @property
    def is_closed(self) -> bool:
        return self in (CaseStatus.resolved, CaseStatus.wont_fix, CaseStatus.duplicate)


class Channel(enum.StrEnum):
    """Where a report came in."""

    slack_reaction = "slack_reaction"
    slack_shortcut = "slack_shortcut"
    slack_command = "slack_command"
    slack_feedback_button = "slack_feedback_button"
    api = "api"
    teams = "teams"


class FlaggedOutput(BaseModel):
    """The AI output a report is about (absent for a free-form edge case)."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="Stable identity of the output: reports with one key share a case")
    platform: str = "slack"
    channel_id: str | None = None
    message_ts: str | None = None
    author_bot_id: str | None = None
    text: str | None = None
    permalink: str | None = None
    system_hint: str | None = Field(default=None, description="system id from ai_output metadata")
    trace_id: str | None = None
    prompt_version: str | None = None
    model: str | None = None
    input: str | None = Field(
        default=None, description="the prompt or user message the AI answered, when known"
    )
    thread_ts: str | None = Field(
        default=None,
        description="Slack: the thread the output replied in, whose parent may be its input",
    )

    _ids = field_validator(
        "platform",
        "thread_ts",
        "channel_id",
        "message_ts",
        "author_bot_id",
        "system_hint",
        "trace_id",
        "prompt_version",
        "model",
    )(check_id)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str | None:
        return check_id(value, MAX_KEY)

    @field_validator("text", "input")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return clean_text(value)

    @field_validator("permalink")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        return check_id(value, MAX_URL)


class Reporter(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(description="platform-qualified id, e.g. 'slack:U123' or 'email:a@b.c'")
    slack_user_id: str | None = None
    email: str | None = None
    display: str | None = None

    _ids = field_validator("id", "slack_user_id", "email")(check_id)

    @field_validator("display")
    @classmethod
    def _display(cls, value: str | None) -> str | None:
        return clean_text(value, 200)


class ReportDraft(BaseModel):
    """A flag as an edge parsed it: the command the service turns into a stored report."""

    model_config = ConfigDict(frozen=True)

    reporter: Reporter
    channel: Channel
    category_id: str
    severity: Severity | None = Field(default=None, description="reporter's own severity")
    comment: str | None = None
    expected: str | None = Field(default=None, description="what it should have said")
    input: str | None = Field(
        default=None, description="the prompt the AI answered (ingest API); else output.input"
    )
    output: FlaggedOutput | None = None
    system_id: str | None = Field(default=None, description="explicit system (ingest API)")
    reply_channel_id: str | None = Field(
        default=None, description="Slack channel where the reporter should see the confirmation"
    )
    dedupe_key: str | None = Field(
        default=None, description="platform delivery id (event_id, action id): one report per key"
    )

    _ids = field_validator("category_id", "system_id", "reply_channel_id")(check_id)

    @field_validator("dedupe_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        return check_id(value, MAX_KEY)

    @field_validator("comment", "expected", "input")
    @classmethod
    def _texts(cls, value: str | None) -> str | None:
        return clean_text(value)


class Report(BaseModel):
    id: int | None = None
    case_id: int
    reporter_id: str
    reporter_slack_id: str | None = None
    reporter_email: str | None = None
    channel: Channel
    category_id: str
    severity: Severity
    comment: str | None = None
    expected: str | None = None
    input: str | None = Field(default=None, description="the prompt the AI answered")
    output: str | None = Field(default=None, description="the full flagged output, redacted")
    trace_id: str | None = None
    prompt_version: str | None = None
    model: str | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def stored_id(self) -> int:
        """The id of a report that has been stored; one built but never stored has none."""
        if self.id is None:
            raise RuntimeError("report was not stored")
        return self.id


class Case(BaseModel):
    id: int | None = None
    output_key: str
    system_id: str
    category_id: str
    severity: Severity
    status: CaseStatus = CaseStatus.new
    owner: str | None = Field(default=None, description="person id from routing.yaml")
    owner_role: Role | None = None
    output_platform: str | None = None
    output_channel_id: str | None = None
    output_ts: str | None = None
    output_author_bot_id: str | None = None
    output_excerpt: str | None = None
    output_permalink: str | None = None
    trace_id: str | None = None
    prompt_version: str | None = None
    model: str | None = None
    report_count: int = 0
    acknowledge_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    acknowledged_at: datetime | None = None
    reopened_at: datetime | None = None

    @property
    def opened_at(self) -> datetime:
        """When the current round of triage began: creation, or the latest reopening."""
        return self.reopened_at or self.created_at

    @property
    def stored_id(self) -> int:
        """The id of a case that has been stored; a case built but never stored has none."""
        if self.id is None:
            raise RuntimeError("case was not stored")
        return self.id

    def trace_fields(self) -> list[tuple[str, str]]:
        """What links the case to its AI output's run, as (label, value), for the cards."""
        found = (("trace", self.trace_id), ("prompt", self.prompt_version), ("model", self.model))
        return [(name, value) for name, value in found if value]


class TimelineEntry(BaseModel):
    id: int | None = None
    case_id: int
    at: datetime
    actor: str
    kind: str
    detail: dict[str, object] = Field(default_factory=dict)


class OutboundMessage(BaseModel):
    """A message waiting in the outbox; `dedupe_key` makes enqueueing it twice harmless."""

    id: int | None = None
    dedupe_key: str
    platform: str = "slack"
    method: str
    payload: dict[str, object]
    attempts: int = 0
    next_attempt_at: datetime
    last_error: str | None = None
    delivered_at: datetime | None = None
    paced_slot: datetime | None = None
    """The send slot it holds in its destination's budget, if it waited for one (pacing)."""


class TimerKind(enum.StrEnum):
    escalation = "escalation"
    acknowledge_breach = "acknowledge_breach"
    resolve_breach = "resolve_breach"
    surge_quiet = "surge_quiet"  # ends a surge; its `step` holds the surge's id


class Timer(BaseModel):
    """A durable timer: a row with a due time, claimed under a lease, fired at most once."""

    id: int | None = None
    key: str = Field(description="unique: scheduling the same timer twice is harmless")
    case_id: int
    kind: TimerKind
    step: int = 0
    notify: str | None = Field(
        default=None,
        description="an escalation step's target when the chain was planned: 'owner' or a "
        "person id (None on timers planned before chains were snapshotted)",
    )
    due_at: datetime
    lease_until: datetime | None = None
    fired_at: datetime | None = None


class DigestRun(BaseModel):
    """One digest for one ISO week, posted at most once."""

    id: int
    digest: str
    week: str
    due_at: datetime
    posted_at: datetime | None = None
    late: bool = False


class CardLocation(BaseModel):
    """Where a case's card was posted on one chat platform: the message that roots its thread.

    A case has at most one card per platform; recording another replaces it.
    """

    case_id: int
    platform: str = Field(description="slack or teams")
    conversation_id: str = Field(description="Slack channel id, or Teams conversation id")
    message_id: str = Field(description="Slack message ts, or Teams activity id")
    posted_at: datetime


class InboxItem(BaseModel):
    """A raw inbound flag waiting to become a report."""

    id: int
    key: str
    kind: str
    payload: dict[str, Any]
    received_at: datetime
    attempts: int = 0
