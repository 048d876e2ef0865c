"""The case timeline's hash chain: how an entry is hashed, and verifying every chain.

Each case's timeline is a chain in insertion (id) order. An entry stores `prev_hash`, the `hash`
of the case's previous entry (GENESIS_HASH for its first), and its own `hash`:

    sha256(prev_hash + canonical JSON of {case_id, at, actor, kind, detail}), hex

The canonical JSON has sorted keys, no whitespace, ASCII only; `at` is ISO-8601 UTC with
microseconds ("2025-03-10T09:30:15.123456+00:00"); a float with an integral value is written
as an integer ("1.0" and "1e20" as 1 and 100000000000000000000), because PostgreSQL's JSONB
reads numbers back that way. Changing an entry breaks its own hash; deleting or reordering
entries breaks the next entry's link. Chains are per case, so deleting a whole case's chain
is not detectable here: the append-only triggers (migration 0003) refuse that instead.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.table_types import HASH_LENGTH
from storage.tables import TimelineRow

GENESIS_HASH = "0" * HASH_LENGTH
"""The `prev_hash` of a case's first timeline entry."""

CONTENT_CHANGED = "hash does not match its content"
LINK_BROKEN = "prev_hash does not match the previous entry's hash"
FIRST_LINK_BROKEN = "prev_hash is not the genesis value, yet no earlier entry of its case exists"

VERIFY_BATCH = 1000


@dataclass(frozen=True)
class BrokenEntry:
    """A timeline entry whose hash or link does not check out, and what is wrong with it."""

    entry_id: int
    case_id: int
    at: datetime
    problem: str

    def describe(self) -> str:
        """E.g. "entry #7 (case #3, at 2025-03-10T09:30:15+00:00): hash does not match …"."""
        return f"entry #{self.entry_id} (case #{self.case_id}, at {self.at.isoformat()}): " + (
            self.problem
        )


@dataclass(frozen=True)
class AuditResult:
    entries: int
    cases: int
    first_broken: BrokenEntry | None = None
    broken: int = 0

    @property
    def ok(self) -> bool:
        return self.first_broken is None


def stored_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """`detail` as the database will give it back: a JSON round trip (NaN and Infinity refused)."""
    try:
        text = json.dumps(detail, allow_nan=False)
    except ValueError as error:
        raise ValueError(f"timeline detail must be plain JSON: {error}") from None
    value: dict[str, Any] = json.loads(text)
    return value


def canonical_entry(
    case_id: int, at: datetime, actor: str, kind: str, detail: dict[str, Any]
) -> str:
    """The canonical JSON text of an entry's content, as hashed."""
    content = {
        "case_id": case_id,
        "at": canonical_time(at),
        "actor": actor,
        "kind": kind,
        "detail": _canonical_json_value(detail),
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)


def entry_hash(
    prev_hash: str, case_id: int, at: datetime, actor: str, kind: str, detail: dict[str, Any]
) -> str:
    """The hash of an entry that follows `prev_hash` in its case's chain."""
    text = prev_hash + canonical_entry(case_id, at, actor, kind, detail)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def canonical_time(at: datetime) -> str:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: the domain uses timezone-aware UTC")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _canonical_json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not JSON")
        exact = Decimal(repr(value))
        return int(exact) if exact == exact.to_integral_value() else value
    if isinstance(value, list | tuple):
        return [_canonical_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _canonical_json_value(item) for key, item in value.items()}
    raise TypeError(f"{type(value).__name__} is not JSON")


async def verify_chain(engine: AsyncEngine, *, batch_size: int = VERIFY_BATCH) -> AuditResult:
    """Recompute every case's chain, streaming entries in (case, id) order.

    Memory stays flat however long the timeline: rows arrive `batch_size` at a time through a
    server-side cursor, and only the previous entry's hash is kept. One statement, so on
    PostgreSQL it reads one consistent snapshot while the bot keeps appending.
    """
    statement = (
        select(
            TimelineRow.id,
            TimelineRow.case_id,
            TimelineRow.at,
            TimelineRow.actor,
            TimelineRow.kind,
            TimelineRow.detail,
            TimelineRow.prev_hash,
            TimelineRow.hash,
        )
        .order_by(TimelineRow.case_id, TimelineRow.id)
        .execution_options(yield_per=batch_size)
    )
    entries = cases = broken = 0
    first: BrokenEntry | None = None
    case_id: int | None = None
    expected_prev = GENESIS_HASH
    async with engine.connect() as connection:
        result = await connection.stream(statement)
        async for rows in result.partitions():
            for row in rows:
                if row.case_id != case_id:
                    case_id, expected_prev = row.case_id, GENESIS_HASH
                    cases += 1
                entries += 1
                problem = _problem(row, expected_prev)
                if problem is not None:
                    broken += 1
                    if first is None or row.id < first.entry_id:
                        first = BrokenEntry(row.id, row.case_id, row.at, problem)
                expected_prev = row.hash
    return AuditResult(entries=entries, cases=cases, first_broken=first, broken=broken)


def _problem(row: Any, expected_prev: str) -> str | None:
    actual = entry_hash(row.prev_hash, row.case_id, row.at, row.actor, row.kind, row.detail)
    if actual != row.hash:
        return CONTENT_CHANGED
    if row.prev_hash != expected_prev:
        return FIRST_LINK_BROKEN if expected_prev == GENESIS_HASH else LINK_BROKEN
    return None
