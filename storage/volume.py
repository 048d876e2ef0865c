"""Output volume in SQL: one row per system × prompt version × model × day (migration 0011).

An absent prompt version or model is stored as '' so that the row's key is unique on every
database (NULLs never conflict); reads turn '' back into None.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.volume import OutputVolume
from digests.reads import VolumeCount
from storage.digest_tables import OutputVolumeRow
from storage.statements import insert

VOLUME: Table = OutputVolumeRow.__table__  # type: ignore[assignment]
KEY = ("system_id", "prompt_version", "model", "day")


@functools.cache
def record_volume(dialect: str) -> Any:
    """INSERT a day's count, or replace the one reported before."""
    statement = insert(dialect, VOLUME)
    return statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={"count": statement.excluded.count, "reported_at": statement.excluded.reported_at},
    )


def volume_row(volume: OutputVolume, at: datetime) -> dict[str, Any]:
    return {
        "system_id": volume.system_id,
        "prompt_version": volume.prompt_version or "",
        "model": volume.model or "",
        "day": volume.day,
        "count": volume.count,
        "reported_at": at,
    }


async def volume_between(
    connection: AsyncConnection, first: date, last: date, system_ids: Sequence[str] | None
) -> list[VolumeCount]:
    """Counts reported for the days `first` … `last` (inclusive)."""
    row = OutputVolumeRow
    statement = (
        select(row.system_id, row.prompt_version, row.model, row.day, func.sum(row.count))
        .where(row.day >= first, row.day <= last)
        .group_by(row.system_id, row.prompt_version, row.model, row.day)
    )
    if system_ids is not None:
        statement = statement.where(row.system_id.in_(system_ids))
    return [
        VolumeCount(
            system_id=system_id,
            prompt_version=prompt_version or None,
            model=model or None,
            day=day,
            count=int(count),
        )
        for system_id, prompt_version, model, day, count in await connection.execute(statement)
    ]
