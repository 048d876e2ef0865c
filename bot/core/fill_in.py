"""Filling in a case's flagged output once its message could be read.

A reaction names only a channel and a timestamp. When Slack would not give the message at
filing time (rate limited, failing), the flag is filed at once all the same, bare; the message
is read again later and what was missing (excerpt, permalink, poster, trace) is filled in here,
and the card refreshed. Only what is missing: a field set since is never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.core.intake import EXCERPT_LIMIT
from bot.core.models import Case, FlaggedOutput, TimelineEntry
from bot.core.ports import CaseStore, CaseTransaction, Clock, Notices
from bot.core.privacy import excerpt, redact
from bot.core.routing_rules import Routing

ACTOR = "loopkeeper"


class OutputFiller:
    def __init__(
        self,
        routing: Routing,
        store: CaseStore,
        clock: Clock,
        notices: Notices | None = None,
        on_enqueued: Callable[[], None] | None = None,
    ) -> None:
        self._routing = routing
        self._store = store
        self._clock = clock
        self._notices = notices
        self._on_enqueued = on_enqueued

    async def fill_in(self, output: FlaggedOutput) -> Case | None:
        """Complete the case of `output` with what was read; None when it has no case."""
        now = self._clock.now()
        queued = 0
        async with self._store.transaction() as tx:
            case = await tx.lock_case_of_output(output.key)
            if case is None:
                return None
            await self._fill_reports(tx, case, output)
            missing = self._missing(case, output)
            if not missing:
                return case
            case = await tx.save_case(case.model_copy(update={**missing, "updated_at": now}))
            assert case.id is not None
            await tx.add_timeline(
                TimelineEntry(
                    case_id=case.id,
                    at=now,
                    actor=ACTOR,
                    kind="output_read",
                    detail={"filled": sorted(missing)},
                )
            )
            if self._notices is not None and not case.status.is_closed:
                key = f"card:{case.id}:output-read:{now.isoformat()}"
                queued = await tx.enqueue_all(self._notices.card(case, key=key))
        if queued and self._on_enqueued is not None:
            self._on_enqueued()
        return case

    async def _fill_reports(self, tx: CaseTransaction, case: Case, output: FlaggedOutput) -> None:
        """Give the case's reports the whole output (and its input, when the message's
        metadata carried one) that they were filed without, as privacy allows."""
        privacy = self._routing.privacy
        if not privacy.store_output_text or case.id is None:
            return
        read = {"output": output.text, "input": output.input}
        for report in await tx.case_reports(case.id):
            missing = {
                name: redact(value, privacy.redact)
                for name, value in read.items()
                if value and value.strip() and getattr(report, name) is None
            }
            if missing:
                await tx.save_report(report.model_copy(update=missing))

    def _missing(self, case: Case, output: FlaggedOutput) -> dict[str, object]:
        privacy = self._routing.privacy
        text = excerpt(output.text, EXCERPT_LIMIT) if privacy.store_output_text else None
        read: dict[str, object | None] = {
            "output_excerpt": redact(text, privacy.redact) if text else None,
            "output_permalink": output.permalink,
            "output_author_bot_id": output.author_bot_id,
            "trace_id": output.trace_id,
            "prompt_version": output.prompt_version,
            "model": output.model,
        }
        return {
            name: value
            for name, value in read.items()
            if value is not None and getattr(case, name) is None
        }
