"""The figures of several runs as ranges, loopkeeper as a share of the floor, and the targets."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bench.honest.phases import KIND

Run = dict[str, dict[str, float]]
"""One run: app ("loopkeeper", "floor", "bolt") → figure name → value."""

APPS = ("loopkeeper", "floor", "bolt")
ROWS = (
    ("ack_p50_ms", "ack p50 (ms) at the ack rate"),
    ("ack_p95_ms", "ack p95 (ms)"),
    ("ack_p99_ms", "ack p99 (ms)"),
    ("ack_errors", "ack errors"),
    ("burst_acks_per_s", "burst: acks/s, closed loop"),
    ("burst_errors", "burst: errors"),
    ("burst_filed_per_s", "burst: reports filed/s"),
    ("burst_carded_per_s", "burst: flags carded/s (end to end)"),
    ("burst_carded", "burst: flags with their card"),
    ("statements_per_flag", "burst: SQL statements per flag"),
    ("commits_per_flag", "burst: commits per flag"),
    ("begins_per_flag", "burst: transactions begun per flag"),
    ("rollbacks_per_flag", "burst: rollbacks per flag"),
    ("cpu_ms_per_flag", "burst: app CPU ms per flag"),
    ("card_p50_ms", "flag → card p50 (ms) at the card rate"),
    ("card_p95_ms", "flag → card p95 (ms)"),
    ("card_p99_ms", "flag → card p99 (ms)"),
    ("card_missing", "flags without a card"),
)


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def span(values: Sequence[float]) -> str:
    """ "a–b" over the runs (one figure when they agree), "-" when never measured."""
    present = [v for v in values if not math.isnan(v)]
    if not present:
        return "n/a" if values else "-"
    low, high = _fmt(min(present)), _fmt(max(present))
    return low if low == high else f"{low}–{high}"


def _values(runs: Sequence[Run], app: str, key: str) -> list[float]:
    return [run[app][key] for run in runs if app in run and key in run[app]]


def _share(runs: Sequence[Run], key: str, of: str) -> list[float]:
    """loopkeeper's `key` over `of`'s burst acks/s, per run."""
    return [
        run["loopkeeper"][key] / run[of]["burst_acks_per_s"]
        for run in runs
        if "loopkeeper" in run and of in run and run[of].get("burst_acks_per_s")
    ]


def render(store: str, runs: Sequence[Run], header: Sequence[str]) -> list[str]:
    lines = [f"== {store}: {len(runs)} run(s); ranges over the runs ==", *header, ""]
    width = max(len(label) for _, label in ROWS) + 2
    lines.append(f"{'':<{width}}" + "".join(f"{app:>22}" for app in APPS))
    for key, label in ROWS:
        cells = [span(_values(runs, app, key)) for app in APPS]
        if all(cell == "-" for cell in cells):
            continue
        lines.append(f"{label:<{width}}" + "".join(f"{cell:>22}" for cell in cells))
    kinds = sorted(
        {key for run in runs for key in run.get("loopkeeper", {}) if key.startswith(KIND)}
    )
    if kinds:
        lines.append("burst: loopkeeper's statements per flag, by verb and table:")
        for key in kinds:
            lines.append(
                f"  {key[len(KIND) :]:<{width - 2}}{span(_values(runs, 'loopkeeper', key)):>22}"
            )
    lines.append("")
    for key, what in (
        ("burst_acks_per_s", "acks/s"),
        ("burst_filed_per_s", "reports filed/s"),
        ("burst_carded_per_s", "flags carded/s"),
    ):
        floor = [f"{v:.0%}" for v in _share(runs, key, "floor")]
        bolt = [f"{v:.0%}" for v in _share(runs, key, "bolt")]
        lines.append(
            f"loopkeeper {what} as a share of the floor's acks/s: {', '.join(floor) or 'n/a'}"
            f"; of bare bolt's: {', '.join(bolt) or 'n/a'}"
        )
    return lines


def targets(store: str, runs: Sequence[Run], ack_rate: float, card_rate: float) -> list[str]:
    """The issue's targets, judged on the worst run."""

    def worst(key: str, high_is_bad: bool = True) -> float:
        values = [v for v in _values(runs, "loopkeeper", key) if not math.isnan(v)]
        if not values:
            return math.nan
        return max(values) if high_is_bad else min(values)

    def verdict(ok: bool, value: float) -> str:
        return "not measured" if math.isnan(value) else ("met" if ok else "NOT MET")

    p99 = worst("ack_p99_ms")
    p95 = worst("card_p95_ms")
    filed = worst("burst_filed_per_s", high_is_bad=False)
    statements = worst("statements_per_flag")
    commits = worst("commits_per_flag")
    return [
        f"targets on {store} (worst run):",
        f"  ack p99 < 50 ms at {ack_rate:g} events/s: {_fmt(p99)} ms -> {verdict(p99 < 50, p99)}",
        f"  flag → card p95 < 250 ms at {card_rate:g} flags/s (target set for PostgreSQL on a "
        f"busy machine): {_fmt(p95)} ms -> {verdict(p95 < 250, p95)}",
        f"  reports filed/s >= 1,000 in a burst (target set for PostgreSQL): {_fmt(filed)} "
        f"-> {verdict(filed >= 1000, filed)}",
        f"  <= 4 statements per flag: {_fmt(statements)} -> {verdict(statements <= 4, statements)}",
        f"  <= 0.5 commits per flag: {_fmt(commits)} -> {verdict(commits <= 0.5, commits)}",
    ]
