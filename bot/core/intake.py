"""Filing reports: the case rules every intake path shares."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.core.attribution import Attribution, attribute
from bot.core.captured import CAPTURED, captured, redacted
from bot.core.case_events import case_event
from bot.core.escalation import schedule
from bot.core.filed import Confirmation, FiledReport
from bot.core.models import (
    Case,
    CaseStatus,
    OutboundMessage,
    Report,
    ReportDraft,
    Severity,
    TimelineEntry,
)
from bot.core.ports import CaseStore, CaseTransaction, Clock, Notices, Reach
from bot.core.privacy import excerpt
from bot.core.route import Route, route_to
from bot.core.routing_rules import Category, Routing
from bot.core.surge import fold_new_case
from bot.core.telemetry import FLAGGED_AT, NO_EVENTS, Events, intake_path
from bot.core.update_steps import REFLAG_EVERY, step_end

EXCERPT_LIMIT = 1000
COMMENT_LIMIT = 3000


class IntakeError(ValueError):
    """A flag that cannot become a report; the message is shown to the reporter."""


@dataclass(frozen=True)
class _Flag:
    draft: ReportDraft
    confirm: Confirmation | None
    category: Category
    attribution: Attribution
    severity: Severity
    route: Route


class IntakeService:
    def __init__(
        self,
        routing: Routing,
        store: CaseStore,
        clock: Clock,
        on_enqueued: Callable[[], None] | None = None,
        *,
        notices: Notices | None = None,
        directory: Reach | None = None,
        events: Events = NO_EVENTS,
    ) -> None:
        self._events = events
        self._routing = routing
        self._store = store
        self._clock = clock
        self._on_enqueued = on_enqueued
        self._notices = notices
        self._directory = directory

    async def file_report(
        self, draft: ReportDraft, confirm: Confirmation | None = None
    ) -> FiledReport | None:
        """Store the flag in its case and queue its confirmation, in one transaction.

        Returns None when `draft.dedupe_key` was already processed (a platform retry).
        """
        [filed] = await self.file_reports([(draft, confirm)])
        return filed

    async def file_reports(
        self, flags: Sequence[tuple[ReportDraft, Confirmation | None]]
    ) -> list[FiledReport | None]:
        """File several flags in one transaction, set-based: one statement per table for the
        lot where the flags are independent (new cases), which is how a backlog of flags is
        worked off quickly. All or none, except that the store may commit whole chunks of the
        flags first (a retry of the lot then finds those already filed)."""
        prepared = [await self._prepare(draft, confirm) for draft, confirm in flags]
        filed, queued = await self._store.in_chunks(prepared, self._file_chunk)
        if queued and self._on_enqueued:
            self._on_enqueued()
        self._count(prepared, filed)
        return filed

    def _count(self, prepared: Sequence[_Flag], filed: Sequence[FiledReport | None]) -> None:
        for flag, result in zip(prepared, filed, strict=True):
            self._events.flag_received(*intake_path(flag.draft.channel))
            if result is not None and not result.report_updated:
                self._events.report_filed()
            if result is not None and (result.case_created or result.reopened):
                self._events.case_opened(result.case.severity.value)

    async def _prepare(self, draft: ReportDraft, confirm: Confirmation | None) -> _Flag:
        """What a flag needs before its transaction: category, system, severity, route."""
        category = self._routing.category(draft.category_id)
        if category is None:
            raise IntakeError(f"unknown category '{draft.category_id}'")
        attribution = attribute(self._routing, draft.output, draft.system_id)
        severity = Severity.highest(category.severity, draft.severity or category.severity)
        route = await route_to(
            self._routing, self._directory, attribution.system, category.route_to
        )
        return _Flag(draft, confirm, category, attribution, severity, route)

    async def _file_chunk(
        self, tx: CaseTransaction, flags: Sequence[_Flag]
    ) -> tuple[list[FiledReport | None], list[OutboundMessage]]:
        """File flags together in `tx`: their delivery ids, cases and new cases' reports in one
        statement each, then each flag in order; None for a flag whose dedupe key was seen (a
        platform retry, or the same flag twice in the lot)."""
        keys = [flag.draft.dedupe_key for flag in flags if flag.draft.dedupe_key]
        unseen = await tx.claim_deliveries(keys)
        fresh: list[int] = []
        for index, flag in enumerate(flags):
            key = flag.draft.dedupe_key
            if key:
                if key not in unseen:
                    continue
                unseen.discard(key)  # the same key again in this lot is a retry too
            fresh.append(index)
        opened = await tx.lock_or_create_cases([self._candidate(flags[i]) for i in fresh])
        new_reports = await tx.add_reports(
            [
                self._new_report(case, flags[i].draft, flags[i].severity)
                for i, (case, created) in zip(fresh, opened, strict=True)
                if created
            ]
        )
        stored = iter(new_reports)
        results: list[FiledReport | None] = [None] * len(flags)
        messages: list[OutboundMessage] = []
        latest: dict[str, Case] = {}  # a case filed twice in the lot: as the first left it
        for index, (case, created) in zip(fresh, opened, strict=True):
            case = latest.get(case.output_key, case)
            report = next(stored) if created else None
            filed, more = await self._file(tx, flags[index], case, created, report)
            latest[case.output_key] = filed.case
            results[index] = filed
            messages += more
        return results, messages

    async def _file(
        self, tx: CaseTransaction, flag: _Flag, case: Case, created: bool, report: Report | None
    ) -> tuple[FiledReport, list[OutboundMessage]]:
        """File one flag in `tx` on its case (locked, or `created` now with the flag's `report`
        stored), with the messages to queue."""
        draft = flag.draft
        case, reopened = await self._opened(tx, flag, case, created)
        report, updated = await self._upsert_report(tx, case, draft, flag.severity, report)
        if not created:  # a new case was stored as its one report makes it
            case = await self._refresh_case(tx, case)
        messages = await self._announce(tx, case, created, reopened, flag.route)
        if created or reopened:
            kind = "case.opened" if created else "case.reopened"
            messages += case_event(
                self._routing.webhooks, kind, case, self._clock.now(), actor=draft.reporter.id
            )
        filed = FiledReport(
            case=case,
            report=report,
            category=flag.category,
            attribution=flag.attribution,
            owner=self._routing.person(case.owner) if case.owner else None,
            case_created=created,
            report_updated=updated,
            reopened=reopened,
        )
        messages += flag.confirm(filed) if flag.confirm else ()
        return filed, messages

    def _candidate(self, flag: _Flag) -> Case:
        """The case a flag opens if its output has none yet (a free-form flag always does)."""
        draft, category, attribution, route = (
            flag.draft,
            flag.category,
            flag.attribution,
            flag.route,
        )
        now = self._clock.now()
        sla = self._routing.sla[flag.severity]
        output = draft.output
        keep_text = self._routing.privacy.store_output_text
        text = excerpt(output.text, EXCERPT_LIMIT) if output and keep_text else None
        return Case(
            output_key=output.key if output else f"adhoc:{uuid.uuid4()}",
            system_id=attribution.system.id,
            category_id=category.id,
            severity=flag.severity,
            report_count=1,
            acknowledge_due_at=now + sla.acknowledge,
            resolve_due_at=now + sla.resolve,
            owner=route.owner,
            owner_role=route.role,
            output_platform=output.platform if output else None,
            output_channel_id=output.channel_id if output else None,
            output_ts=output.message_ts if output else None,
            output_author_bot_id=output.author_bot_id if output else None,
            output_excerpt=self._redact(text),
            output_permalink=output.permalink if output else None,
            trace_id=output.trace_id if output else None,
            prompt_version=output.prompt_version if output else None,
            model=output.model if output else None,
            created_at=now,
            updated_at=now,
        )

    async def _opened(
        self, tx: CaseTransaction, flag: _Flag, case: Case, created: bool
    ) -> tuple[Case, bool]:
        """The case as this flag leaves it open, noted on its timeline, and whether the flag
        reopened it (a closed case flagged again)."""
        now = self._clock.now()
        actor = flag.draft.reporter.id
        if created:
            await tx.add_timeline(
                TimelineEntry(
                    case_id=case.stored_id,
                    at=now,
                    actor=actor,
                    kind="opened",
                    detail={
                        "system": case.system_id,
                        "basis": flag.attribution.basis,
                        "owner": case.owner,
                    },
                )
            )
            return case, False
        if not case.status.is_closed:
            return case, False
        previous = case.status
        case = case.model_copy(
            update={
                "status": CaseStatus.new,
                "closed_at": None,
                "owner": flag.route.owner,
                "owner_role": flag.route.role,
                "reopened_at": now,
                "acknowledged_at": None,
            }
        )
        await tx.add_timeline(
            TimelineEntry(
                case_id=case.stored_id,
                at=now,
                actor=actor,
                kind="reopened",
                detail={"previous_status": previous.value, "owner": case.owner},
            )
        )
        return case, True

    async def _announce(
        self,
        tx: CaseTransaction,
        case: Case,
        created: bool,
        reopened: bool,
        route: Route,
    ) -> list[OutboundMessage]:
        """Timers for the case, and the messages to queue: its card, its thread saying why
        routing fell back or that it reopened, the owner's DM."""
        if self._notices is None or case.status.is_closed:
            return []
        now = self._clock.now()
        messages, folded = await fold_new_case(tx, self._routing, self._notices, case, created, now)
        if folded:  # announced by its surge's card and DM (bot/core/surge.py)
            return messages
        opening = created or reopened
        if opening:
            round_ = "reopen" if reopened else "open"
            messages += [  # stamped, so delivery can measure the time from flag to card
                card.model_copy(
                    update={"payload": {**card.payload, FLAGGED_AT: case.opened_at.isoformat()}}
                )
                for card in self._notices.card(
                    case, key=f"card:{case.id}:{round_}:{case.opened_at.isoformat()}", opening=True
                )
            ]
            if reopened:
                messages += self._notices.thread(
                    case,
                    "🔁 Reopened: the same output was flagged again after the case closed.",
                    key=f"reopen:{case.id}:{case.opened_at.isoformat()}",
                )
            if route.note:
                messages += self._notices.thread(
                    case,
                    f"⚠️ {route.note}",
                    key=f"route-note:{case.id}:{case.opened_at.isoformat()}",
                )
        else:
            # One refresh per step, sent at its end (bot/core/update_steps.py): a crowd
            # re-flagging one answer is not one chat.update each.
            due = step_end(case.opened_at, now, REFLAG_EVERY)
            messages += [
                m.model_copy(update={"next_attempt_at": due})
                for m in self._notices.card(case, key=f"card:{case.id}:reports:{due.isoformat()}")
            ]
        # After the card: the owner's DM links to it, and messages of a case go out in order.
        fire_due = (self._notices, self._clock.now()) if opening else None
        return messages + await schedule(
            tx, self._routing, case, fire_due=fire_due, unfolded=created
        )

    def _report_fields(self, draft: ReportDraft, severity: Severity) -> dict[str, object]:
        output = draft.output
        return {
            "category_id": draft.category_id,
            "severity": severity,
            "channel": draft.channel,
            "comment": self._redact(excerpt(draft.comment, COMMENT_LIMIT)),
            "expected": self._redact(excerpt(draft.expected, COMMENT_LIMIT)),
            **captured(draft, self._routing.privacy),
            "trace_id": output.trace_id if output else None,
            "prompt_version": output.prompt_version if output else None,
            "model": output.model if output else None,
            "reporter_slack_id": draft.reporter.slack_user_id,
            "reporter_email": draft.reporter.email,
        }

    def _new_report(self, case: Case, draft: ReportDraft, severity: Severity) -> Report:
        now = self._clock.now()
        return Report(
            case_id=case.stored_id,
            reporter_id=draft.reporter.id,
            created_at=now,
            updated_at=now,
            **self._report_fields(draft, severity),  # type: ignore[arg-type]
        )

    async def _upsert_report(
        self,
        tx: CaseTransaction,
        case: Case,
        draft: ReportDraft,
        severity: Severity,
        stored: Report | None,
    ) -> tuple[Report, bool]:
        """The reporter's report on the case: `stored` already (a case opened now), added, or
        updated if they flagged it before; and whether it was updated."""
        now = self._clock.now()
        existing = None
        if stored is not None:
            report = stored
        elif (existing := await tx.find_report(case.stored_id, draft.reporter.id)) is not None:
            # A re-flag whose input or output could not be read this time keeps what was.
            fields = self._report_fields(draft, severity)
            kept = {name: getattr(existing, name) for name in CAPTURED if fields[name] is None}
            update = {**fields, **kept, "updated_at": now}
            report = await tx.save_report(existing.model_copy(update=update))
        else:
            report = await tx.add_report(self._new_report(case, draft, severity))
        await tx.add_timeline(
            TimelineEntry(
                case_id=case.stored_id,
                at=now,
                actor=draft.reporter.id,
                kind="report_updated" if existing is not None else "reported",
                detail={"category": draft.category_id, "severity": severity.value},
            )
        )
        return report, existing is not None

    async def _refresh_case(self, tx: CaseTransaction, case: Case) -> Case:
        """Recompute what a case derives from its reports: count, severity, SLA deadlines."""
        reports = await tx.case_reports(case.stored_id)
        severity = Severity.highest(*(r.severity for r in reports))
        sla = self._routing.sla[severity]
        opened = case.opened_at
        return await tx.save_case(
            case.model_copy(
                update={
                    "report_count": len(reports),
                    "severity": severity,
                    "acknowledge_due_at": opened + sla.acknowledge,
                    "resolve_due_at": opened + sla.resolve,
                    "updated_at": self._clock.now(),
                }
            )
        )

    def _redact(self, text: str | None) -> str | None:
        return redacted(text, self._routing.privacy)
