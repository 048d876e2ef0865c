"""The ports the core needs, as Protocols: storage and the clock. Adapters live outside bot/."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.models import (
    Case,
    CaseStatus,
    OutboundMessage,
    Report,
    TeamsCard,
    TeamsConversation,
    TeamsUser,
    TimelineEntry,
    Timer,
)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


@dataclass(frozen=True)
class ReportWithCase:
    report: Report
    case: Case


class CaseTransaction(Protocol):
    """One atomic unit of work: everything done through it commits together or not at all
    (unless it is split with `checkpoint`)."""

    def should_checkpoint(self) -> bool:
        """True when another writer that must not wait is waiting for this transaction."""
        ...

    async def checkpoint(self) -> None:
        """Commit what is done so far and go on in a new transaction, after letting the
        waiting writers go. Locks taken before it are released."""
        ...

    async def claim_delivery(self, key: str) -> bool:
        """Record a platform delivery id (Slack event_id, action id); False if already seen."""
        ...

    async def lock_or_create_case(self, case: Case) -> tuple[Case, bool]:
        """Lock the case of `case.output_key`, creating it from `case` if absent.

        Returns the stored case (with its id) and whether it was created now. Two
        transactions racing on one output key end with one case.
        """
        ...

    async def new_case(self, case: Case) -> Case:
        """Insert a case that has no shared output key (a free-form edge case)."""
        ...

    async def lock_case(self, case_id: int) -> Case | None:
        """The case, locked until the transaction ends; None if there is no such case."""
        ...

    async def lock_case_of_output(self, output_key: str) -> Case | None:
        """The case of this output, locked until the transaction ends; None if none."""
        ...

    async def save_case(self, case: Case) -> Case: ...

    async def find_report(self, case_id: int, reporter_id: str) -> Report | None: ...

    async def add_report(self, report: Report) -> Report: ...

    async def save_report(self, report: Report) -> Report: ...

    async def case_reports(self, case_id: int) -> list[Report]: ...

    async def append_timeline(self, entry: TimelineEntry) -> TimelineEntry: ...

    async def add_timeline(self, entry: TimelineEntry) -> None:
        """Append to the timeline when the transaction ends, with the other entries added,
        in order (one write for all); for callers that need no id back."""
        ...

    async def enqueue(self, message: OutboundMessage) -> bool:
        """Add a message to the outbox; False when one with the same dedupe key exists."""
        ...

    async def enqueue_all(self, messages: Sequence[OutboundMessage]) -> int:
        """Add messages to the outbox, in order, in one statement; returns how many were new
        (those whose dedupe key exists are left out)."""
        ...

    async def schedule_timers(self, timers: list[Timer]) -> None:
        """Add timers at once; ones whose key exists are left as they are."""
        ...

    async def lock_cases(self, case_ids: list[int]) -> dict[int, Case]:
        """Lock several cases at once (in id order); absent ones are left out."""
        ...

    async def finish_timers(self, timer_ids: list[int], at: datetime) -> set[int]:
        """Mark timers fired; returns the ids this call fired (others were fired already)."""
        ...


class CaseStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[CaseTransaction]: ...

    async def get_case(self, case_id: int) -> Case | None: ...

    async def list_cases(
        self, *, status: CaseStatus | None = None, system_id: str | None = None
    ) -> list[Case]: ...

    async def reports_by(self, reporter_id: str, limit: int = 20) -> list[ReportWithCase]:
        """A reporter's most recent reports, newest first, with their cases."""
        ...

    async def timeline(self, case_id: int) -> list[TimelineEntry]: ...

    async def reports_of(self, case_id: int) -> list[Report]:
        """A case's reports, oldest first."""
        ...

    async def case_for_card(self, channel: str, ts: str) -> Case | None:
        """The case whose Slack card is the message `ts` in `channel`."""
        ...

    async def record_card(self, case_id: int, channel: str, ts: str) -> None:
        """Remember where a case's Slack card was posted."""
        ...

    async def cached_user(self, person_id: str, platform: str) -> tuple[bool, str | None]:
        """(known, user id) from the directory cache; known=False means never looked up."""
        ...

    async def cache_user(
        self, person_id: str, platform: str, user_id: str | None, at: datetime
    ) -> None: ...

    async def cached_person(self, platform: str, user_id: str) -> str | None:
        """The person whose cached user id on `platform` is `user_id`."""
        ...


class TeamsStore(CaseStore, Protocol):
    """What the Teams edge stores besides cases: card locations and conversation references."""

    async def case_for_teams_card(self, conversation_id: str, activity_id: str) -> Case | None:
        """The case whose Teams card is the activity `activity_id` in `conversation_id`."""
        ...

    async def teams_card(self, case_id: int) -> TeamsCard | None:
        """Where the case's Teams card was posted, if it was."""
        ...

    async def record_teams_card(self, card: TeamsCard) -> None:
        """Remember where a case's Teams card was posted."""
        ...

    async def save_teams_conversation(self, conversation: TeamsConversation) -> None:
        """Insert or refresh a conversation reference."""
        ...

    async def teams_conversation(self, conversation_id: str) -> TeamsConversation | None: ...

    async def personal_teams_conversation(self, user_id: str) -> TeamsConversation | None:
        """The 1:1 chat between the bot and the Teams user `user_id`, if there is one."""
        ...

    async def latest_teams_conversation(self) -> TeamsConversation | None:
        """The most recently refreshed conversation (its service URL reaches the tenant)."""
        ...

    async def save_teams_user(self, user: TeamsUser) -> None:
        """Insert or refresh a user; a known e-mail is kept when the update carries none."""
        ...

    async def teams_user(self, key: str) -> TeamsUser | None:
        """A user by key (aadObjectId, else Teams user id) or by Teams user id."""
        ...


class TimerQueue(Protocol):
    async def claim_timers(self, now: datetime, lease: timedelta, limit: int = 100) -> list[Timer]:
        """Claim due, unfired timers whose lease is free, leasing them until `now + lease`."""
        ...


@dataclass(frozen=True)
class Platforms:
    """Which outbox messages a delivery loop takes: those for `names`, or with `others`, all but
    those (so a slow webhook receiver never holds up chat messages, each has its own loop)."""

    names: frozenset[str]
    others: bool = False


class Outbox(Protocol):
    async def claim_due(
        self, now: datetime, lease: timedelta, limit: int = 50, platforms: Platforms | None = None
    ) -> list[OutboundMessage]:
        """Claim undelivered messages that are due (for `platforms` only, if given), oldest first.

        Claiming pushes each message's next attempt to `now + lease` and counts an attempt,
        so another worker (or replica) does not take it while this one is sending.
        """
        ...

    async def mark_delivered(self, message_ids: list[int], at: datetime) -> None: ...

    async def mark_failed(self, message_id: int, error: str, next_attempt_at: datetime) -> None: ...

    async def mark_dead(self, message_id: int, error: str, at: datetime) -> None:
        """Stop retrying the message; it keeps its error until an operator sends it again."""
        ...

    async def pending_count(self) -> int: ...


class Notices(Protocol):
    """Builds the outbox messages that announce and update a case on a chat platform.

    `key` makes each notice idempotent: the same key is never sent twice.
    """

    def card(self, case: Case, key: str, *, opening: bool = False) -> list[OutboundMessage]:
        """Refresh the case card; `opening` posts it in the triage channel if it isn't there."""
        ...

    def thread(self, case: Case, text: str, key: str) -> list[OutboundMessage]:
        """One short reply in the case card's thread."""
        ...

    def direct(self, person_id: str, text: str, case: Case, key: str) -> list[OutboundMessage]:
        """A direct message to a person of routing.yaml about the case."""
        ...

    def reporter(
        self, report: Report, text: str, case: Case, key: str, *, ask: bool = False
    ) -> list[OutboundMessage]:
        """A direct message to a reporter; `ask` adds a button to answer the owner's question."""
        ...


class Reach(Protocol):
    """Whether the chat platform can reach a person of routing.yaml."""

    async def reachable(self, person_id: str) -> bool | None:
        """True or False when known; None when looking them up failed (a passing fault, not
        an answer: "no such account" is only said when the platform said it)."""
        ...


class Directory(Reach, Protocol):
    """Maps people of routing.yaml to chat accounts and back."""

    async def slack_user(self, person_id: str) -> str | None:
        """The person's Slack user id (from routing.yaml or looked up by e-mail), or None."""
        ...

    async def person_for_slack_user(self, user_id: str) -> str | None:
        """The routing.yaml person behind a Slack user id, or None."""
        ...
