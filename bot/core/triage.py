"""Triage: every move an owner makes on a case, checked, authorised, recorded and announced."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.core.case_events import ACTION_EVENTS, case_event
from bot.core.lifecycle import Action, IllegalTransition, NotAllowed, apply, authorise
from bot.core.models import Case, CaseStatus, OutboundMessage, Report, Role, Severity, TimelineEntry
from bot.core.ports import CaseStore, CaseTransaction, Clock, Notices
from bot.core.reporters_told import ReporterTold, stamped
from bot.core.routing_rules import Routing
from bot.core.telemetry import NO_EVENTS, Events

RESOLUTION_REASONS = {
    "prompt_fixed": "prompt fixed",
    "data_fixed": "data fixed",
    "model_changed": "model changed",
    "guardrail_added": "guardrail added",
    "not_reproducible": "not reproducible",
    "other": "other",
}


class CaseNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Outcome:
    case: Case
    message: str


class TriageService:
    def __init__(
        self,
        routing: Routing,
        store: CaseStore,
        clock: Clock,
        notices: Notices,
        on_enqueued: Callable[[], None] | None = None,
        *,
        events: Events = NO_EVENTS,
    ) -> None:
        self._events = events
        self._routing = routing
        self._store = store
        self._clock = clock
        self._notices = notices
        self._on_enqueued = on_enqueued

    def can_change(self, case: Case, person_id: str | None) -> None:
        """Raise NotAllowed unless the person may change the case (checked again on commit)."""
        authorise(self._routing, case, person_id)

    async def acknowledge(self, case_id: int, actor: str | None) -> Outcome:
        async def move(tx: CaseTransaction, case: Case) -> tuple[Case, str]:
            case = apply(case, Action.acknowledge, self._clock.now())
            return case, f"✅ Acknowledged by {self._name(actor)}."

        return await self._change(case_id, actor, Action.acknowledge, move)

    async def resolve(self, case_id: int, actor: str | None, reason: str, note: str) -> Outcome:
        return await self._close(case_id, actor, Action.resolve, reason, note)

    async def wont_fix(self, case_id: int, actor: str | None, reason: str) -> Outcome:
        return await self._close(case_id, actor, Action.wont_fix, None, reason)

    async def reassign(
        self,
        case_id: int,
        actor: str | None,
        *,
        person: str | None = None,
        role: Role | None = None,
    ) -> Outcome:
        async def move(tx: CaseTransaction, case: Case) -> tuple[Case, str]:
            apply(case, Action.reassign, self._clock.now())  # refuses a closed case
            new_owner = person
            new_role = case.owner_role
            if role is not None:
                new_owner = self._routing.owner_of(case.system_id, role)
                new_role = role
                if new_owner is None:
                    raise IllegalTransition(
                        f"{case.system_id} names nobody as its {role.value} owner."
                    )
            if new_owner is None or self._routing.person(new_owner) is None:
                raise IllegalTransition("Choose someone listed in routing.yaml.")
            if new_owner == case.owner:
                raise IllegalTransition(f"Case #{case.id} is already with {self._name(new_owner)}.")
            case = case.model_copy(
                update={"owner": new_owner, "owner_role": new_role, "updated_at": self._clock.now()}
            )
            await self._enqueue(
                tx,
                self._notices.direct(
                    new_owner,
                    f"{self._name(actor)} assigned case #{case.id} to you.",
                    case,
                    key=f"reassigned:{case.id}:{self._stamp()}",
                ),
            )
            return case, f"↪️ Reassigned to {self._name(new_owner)} by {self._name(actor)}."

        return await self._change(
            case_id, actor, Action.reassign, move, detail={"to": person, "role": role}
        )

    async def ask(self, case_id: int, actor: str | None, question: str) -> Outcome:
        async def move(tx: CaseTransaction, case: Case) -> tuple[Case, str]:
            case = apply(case, Action.needs_info, self._clock.now())
            for report in await tx.case_reports(case.stored_id):
                await self._enqueue(
                    tx,
                    self._notices.reporter(
                        report,
                        f"{self._name(actor)} needs more information about case #{case.id} "
                        f"you reported: “{question}”",
                        case,
                        key=f"ask:{case.id}:{report.id}:{self._stamp()}",
                        ask=True,
                    ),
                )
            return case, f"❓ {self._name(actor)} asked the reporters: “{question}”"

        return await self._change(
            case_id, actor, Action.needs_info, move, detail={"question": question}
        )

    async def answer(self, case_id: int, reporter_id: str, text: str) -> Outcome:
        """A reporter answers the owner's question; the case goes back to acknowledged."""
        now = self._clock.now()
        async with self._store.transaction() as tx:
            case = await self._locked(tx, case_id)
            reports = await tx.case_reports(case_id)
            if not any(r.reporter_id == reporter_id for r in reports):
                raise NotAllowed(f"Only the people who reported case #{case_id} can answer.")
            case = apply(case, Action.answer, now)
            case = await tx.save_case(case)
            # Back to acknowledged: receivers following the status see it move.
            await tx.enqueue_all(
                case_event(
                    self._routing.webhooks,
                    "case.acknowledged",
                    case,
                    now,
                    actor=reporter_id,
                    previous=CaseStatus.needs_info,
                    reason="reporter_answered",
                    note=text,
                )
            )
            await tx.append_timeline(
                TimelineEntry(
                    case_id=case_id,
                    at=now,
                    actor=reporter_id,
                    kind="answered",
                    detail={"text": text},
                )
            )
            await self._announce(tx, case, f"💬 A reporter answered: “{text}”")
        self._wake()
        return Outcome(case, f"Thanks, your answer was added to case #{case_id}.")

    async def mark_duplicate(self, case_id: int, actor: str | None, original_id: int) -> Outcome:
        async def move(tx: CaseTransaction, case: Case) -> tuple[Case, str]:
            if original_id == case.id:
                raise IllegalTransition("A case can't be a duplicate of itself.")
            original = await tx.lock_case(original_id)
            if original is None:
                raise IllegalTransition(f"There is no case #{original_id}.")
            apply(case, Action.duplicate, self._clock.now())  # refuses before anything moves
            moved = await self._move_reports(tx, case, original)
            case = apply(
                await self._locked(tx, case.stored_id), Action.duplicate, self._clock.now()
            )
            original = await self._locked(tx, original_id)
            await self._enqueue(
                tx, self._notices.card(original, key=f"card:{original.id}:{self._stamp()}")
            )
            await self._enqueue(
                tx,
                self._notices.thread(
                    original,
                    f"🔗 Case #{case.id} was marked a duplicate of this one; "
                    f"{moved} report(s) moved here.",
                    key=f"dup-into:{original.id}:{case.id}",
                ),
            )
            return case, f"🔗 Marked a duplicate of case #{original.id} by {self._name(actor)}."

        return await self._change(
            case_id, actor, Action.duplicate, move, detail={"original": original_id}
        )

    async def comment(self, case_id: int, author: str, text: str) -> None:
        """A reply in the case's thread: anyone may comment; it goes on the timeline."""
        async with self._store.transaction() as tx:
            case = await self._locked(tx, case_id)
            await tx.append_timeline(
                TimelineEntry(
                    case_id=case.stored_id,
                    at=self._clock.now(),
                    actor=author,
                    kind="comment",
                    detail={"text": text},
                )
            )

    # --- shared machinery -------------------------------------------------------------------

    async def _close(
        self, case_id: int, actor: str | None, action: Action, reason: str | None, note: str
    ) -> Outcome:
        async def move(tx: CaseTransaction, case: Case) -> tuple[Case, str]:
            case = apply(case, action, self._clock.now())
            why = RESOLUTION_REASONS.get(reason or "", reason) if reason else None
            if action is Action.resolve:
                line = f"🎉 Resolved by {self._name(actor)}" + (f" ({why})" if why else "")
            else:
                line = f"🚫 Closed as won't fix by {self._name(actor)}"
            line += f": {note}" if note else "."
            return case, line

        return await self._change(
            case_id, actor, action, move, detail={"reason": reason, "note": note}
        )

    async def _change(
        self,
        case_id: int,
        actor: str | None,
        action: Action,
        move: Callable[[CaseTransaction, Case], Awaitable[tuple[Case, str]]],
        detail: dict[str, object] | None = None,
    ) -> Outcome:
        now = self._clock.now()
        async with self._store.transaction() as tx:
            case = await self._locked(tx, case_id)
            authorise(self._routing, case, actor)
            before = case.status
            reports = await tx.case_reports(case_id)  # before a duplicate's reports move away
            changed, line = await move(tx, case)
            changed = await tx.save_case(changed)
            await tx.append_timeline(
                TimelineEntry(
                    case_id=case_id,
                    at=now,
                    actor=actor or "unknown",
                    kind=action.value,
                    detail={k: v for k, v in (detail or {}).items() if v is not None}
                    | {"from": before.value, "to": changed.status.value},
                )
            )
            await tx.enqueue_all(self._event(action, case, changed, actor, detail or {}))
            await self._announce(tx, changed, line)
            if changed.status.is_closed:
                await self._tell_reporters(tx, changed, line, reports)
        if changed.status.is_closed and not before.is_closed:
            self._events.case_closed(changed.status.value)
        self._wake()
        return Outcome(changed, line)

    def _event(
        self,
        action: Action,
        before: Case,
        case: Case,
        actor: str | None,
        detail: dict[str, object],
    ) -> list[OutboundMessage]:
        """The webhook event of a triage move (bot/core/case_events.py)."""
        kind = ACTION_EVENTS.get(action.value)
        if kind is None:
            return []
        reason, note = detail.get("reason"), detail.get("note") or detail.get("question")
        extra: dict[str, object] = {}
        if action is Action.duplicate:
            extra["duplicate_of"] = detail.get("original")
        if action is Action.reassign:
            extra["previous_owner"] = before.owner
        return case_event(
            self._routing.webhooks,
            kind,
            case,
            self._clock.now(),
            actor=actor,
            previous=before.status,
            reason=reason if isinstance(reason, str) else None,
            note=note if isinstance(note, str) else None,
            extra=extra,
        )

    async def _announce(self, tx: CaseTransaction, case: Case, line: str) -> None:
        stamp = self._stamp()
        await self._enqueue(tx, self._notices.card(case, key=f"card:{case.id}:{stamp}"))
        await self._enqueue(tx, self._notices.thread(case, line, key=f"thread:{case.id}:{stamp}"))

    async def _tell_reporters(
        self, tx: CaseTransaction, case: Case, line: str, reports: list[Report]
    ) -> None:
        outcome = {
            CaseStatus.resolved: "was resolved",
            CaseStatus.wont_fix: "was closed as won't fix",
            CaseStatus.duplicate: "was merged into another case",
        }[case.status]
        text = f"Case #{case.id} that you reported {outcome}. {line}"
        notices = [
            (report, message)
            for report in reports
            for message in self._notices.reporter(
                report, text, case, key=f"outcome:{case.id}:{report.id}:{self._stamp()}"
            )
        ]
        assert case.closed_at is not None  # a closed case has its closing time
        for report, message in notices:
            told = ReporterTold(
                case_id=case.stored_id,
                report_id=report.stored_id,
                closed_at=case.closed_at,
                owed=len(notices),
                platform=message.platform,
            )
            await tx.enqueue(stamped(message, told))

    async def _move_reports(self, tx: CaseTransaction, duplicate: Case, original: Case) -> int:
        """Reports of the duplicate join the original, except a reporter's second report."""
        already = {r.reporter_id for r in await tx.case_reports(original.stored_id)}
        moved = 0
        for report in await tx.case_reports(duplicate.stored_id):
            if report.reporter_id in already:
                continue
            await tx.save_report(report.model_copy(update={"case_id": original.id}))
            moved += 1
        for case in (original, duplicate):
            reports = await tx.case_reports(case.stored_id)
            update: dict[str, object] = {"report_count": len(reports)}
            if reports:
                update["severity"] = Severity.highest(*(r.severity for r in reports))
            await tx.save_case(case.model_copy(update=update))
        return moved

    async def _locked(self, tx: CaseTransaction, case_id: int) -> Case:
        case = await tx.lock_case(case_id)
        if case is None:
            raise CaseNotFound(f"There is no case #{case_id}.")
        return case

    async def _enqueue(self, tx: CaseTransaction, messages: Sequence[OutboundMessage]) -> None:
        for message in messages:
            await tx.enqueue(message)

    def _name(self, person_id: str | None) -> str:
        return self._routing.name_of(person_id, "someone")

    @staticmethod
    def _stamp() -> str:
        # Each change happens in one transaction, so a fresh token per notice is idempotent
        # enough; clock time is not, since two moves can share an instant.
        return uuid.uuid4().hex

    def _wake(self) -> None:
        if self._on_enqueued:
            self._on_enqueued()
