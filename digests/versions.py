"""Regressions by prompt version and model: the digest's `versions` section.

Each system × prompt version × model with reports in the eight weeks gets its weekly series,
this week's and last week's reports, and a rate: reports per day it was live in the window, or
per 1,000 outputs where the AI app reported its volume (`POST /api/v1/volume`). A version's
predecessor is the one first seen before it on the same system. A version first seen in the
window (not in the eight weeks before it) whose rate is at least `REGRESSION_RATIO` times its
predecessor's, on at least `MIN_REPORTS` reports, is called out:
"support-assistant prompt v8: 3.1× the flags per day of v7, since Tue".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from digests.model import VersionRow
from digests.reads import VersionCount, VersionKey, VolumeCount
from digests.text import times
from digests.window import LAST_WEEK, THIS_WEEK, WEEKS_IN_SERIES, Window

REGRESSION_RATIO = 2.0
MIN_REPORTS = 3
"""Fewer reports than this prove nothing, whatever the ratio."""
MIN_LIVE = timedelta(days=1)
"""A version live for an hour is not flagged 24× per day: its rate counts at least a day."""


@dataclass
class _Version:
    key: VersionKey
    series: list[int] = field(default_factory=lambda: [0] * WEEKS_IN_SERIES)
    first_at: datetime | None = None
    new: bool = False
    start: datetime | None = None
    end: datetime | None = None
    outputs: int = 0

    @property
    def reports(self) -> int:
        return sum(self.series)

    @property
    def per_day(self) -> float:
        assert self.start is not None and self.end is not None
        live = max(self.end - self.start, MIN_LIVE)
        return self.reports / (live / timedelta(days=1))

    @property
    def per_1k(self) -> float | None:
        return self.reports / self.outputs * 1000 if self.outputs else None


def versions(
    counts: Sequence[VersionCount],
    seen_before: frozenset[VersionKey],
    volume: Sequence[VolumeCount],
    window: Window,
) -> list[VersionRow]:
    """The section's rows: called-out regressions first, then the most reported."""
    found: dict[VersionKey, _Version] = {}
    for row in counts:
        key = (row.system_id, row.prompt_version, row.model)
        version = found.setdefault(key, _Version(key))
        version.series[row.bucket] += row.reports
        if version.first_at is None or row.first_at < version.first_at:
            version.first_at = row.first_at
    by_system: dict[str, list[_Version]] = defaultdict(list)
    for version in found.values():
        version.new = version.key not in seen_before
        # A version seen before the window was live from its start on.
        version.start = version.first_at if version.new else window.bounds[0]
        by_system[version.key[0]].append(version)
    predecessors: dict[VersionKey, _Version] = {}
    for line in by_system.values():
        line.sort(key=lambda v: (v.start, v.key[1] or "", v.key[2] or ""))
        for before, after in zip(line, line[1:], strict=False):
            predecessors[after.key] = before
            before.end = after.start
    for version in found.values():
        version.end = version.end or window.as_of
    _count_outputs(found, volume, window)
    rows = [_row(v, predecessors.get(v.key), window) for v in found.values()]
    return sorted(
        rows,
        key=lambda r: (r.regression is None, -r.reports, -sum(r.series), r.system_id, _label(r)),
    )


def _count_outputs(
    found: dict[VersionKey, _Version], volume: Sequence[VolumeCount], window: Window
) -> None:
    for day in volume:
        version = found.get((day.system_id, day.prompt_version, day.model))
        if version is None or version.start is None or version.end is None:
            continue
        first = version.start.astimezone(window.tz).date()
        last = version.end.astimezone(window.tz).date()
        if first <= day.day <= last:
            version.outputs += day.count


def _row(version: _Version, before: _Version | None, window: Window) -> VersionRow:
    system_id, prompt_version, model = version.key
    return VersionRow(
        system_id=system_id,
        prompt_version=prompt_version,
        model=model,
        reports=version.series[THIS_WEEK],
        previous=version.series[LAST_WEEK],
        rate=round(version.per_day, 3),
        rate_per_1k=None if version.per_1k is None else round(version.per_1k, 3),
        regression=_regression(version, before, window),
        predecessor=_name(before, version) if before else None,
        first_seen=version.first_at if version.new else None,
        series=list(version.series),
    )


def _regression(version: _Version, before: _Version | None, window: Window) -> str | None:
    if before is None or not version.new or version.reports < MIN_REPORTS:
        return None
    now_rate, then_rate = version.per_1k, before.per_1k
    unit = "per 1,000 outputs"
    if now_rate is None or then_rate is None:
        now_rate, then_rate, unit = version.per_day, before.per_day, "per day"
    if then_rate <= 0 or now_rate < REGRESSION_RATIO * then_rate:
        return None
    assert version.first_at is not None
    what = "prompt" if version.key[1] != before.key[1] else "model"
    return (
        f"{version.key[0]} {what} {_name(version, before)}: {times(now_rate / then_rate)} the "
        f"flags {unit} of {_name(before, version)}, since {_since(version.first_at, window)}"
    )


def _name(version: _Version, other: _Version) -> str:
    """What tells `version` apart from `other`: its prompt version, else its model."""
    if version.key[1] != other.key[1]:
        return version.key[1] or "unversioned"
    return version.key[2] or "unknown model"


def _since(moment: datetime, window: Window) -> str:
    local = moment.astimezone(window.tz)
    if moment >= window.start:
        return f"{local:%a}"
    return f"{local.day} {local:%b}"


def _label(row: VersionRow) -> str:
    return f"{row.prompt_version or ''}/{row.model or ''}"
