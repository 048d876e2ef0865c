"""Recording reporters told how their case ended: the loop-closure read model's writes."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table

from bot.core.reporters_told import ReporterTold
from storage.digest_tables import ReporterToldRow
from storage.statements import insert

REPORTERS_TOLD: Table = ReporterToldRow.__table__  # type: ignore[assignment]


@functools.cache
def record_told(dialect: str) -> Any:
    """INSERT one receipt; a receipt already recorded (a notice sent twice) is left alone."""
    return insert(dialect, REPORTERS_TOLD).on_conflict_do_nothing(
        index_elements=["case_id", "report_id", "closed_at"]
    )


def told_rows(told: Sequence[ReporterTold], at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "case_id": t.case_id,
            "report_id": t.report_id,
            "closed_at": t.closed_at,
            "owed": t.owed,
            "platform": t.platform,
            "told_at": at,
        }
        for t in told
    ]
