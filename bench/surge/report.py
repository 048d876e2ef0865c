"""The surge figures beside the baseline, and the pacing figure against its target, as ranges
over the runs (bench.honest's `span`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bench.honest.report import span
from bench.surge.figures import Phase

Run = dict[str, Phase]
"""One run: phase ("surge", "baseline", "pacing") → figure name → value."""

ROWS = (
    ("flags_acked", "flags acked"),
    ("last_flag_s", "first flag → last flag sent (s)"),
    ("triage_messages", "messages in the triage channel, all"),
    ("case_cards", "  case cards posted"),
    ("surge_posts", "  surge cards posted"),
    ("surge_updates", "  surge card updates"),
    ("case_card_updates", "  case card updates"),
    ("triage_thread", "  thread lines"),
    ("owner_dms", "DMs to the owner"),
    ("owner_surge_dms", "  of them surge DMs"),
    ("owner_first_dm_s", "first flag → owner's first DM (s)"),
    ("surge_card_s", "first flag → surge card posted (s)"),
    ("owner_surge_dm_s", "first flag → owner's surge DM (s)"),
    ("last_owner_dm_s", "first flag → owner's last DM (s)"),
    ("filed_s", "first flag → every case filed with its timers (s)"),
    ("triage_settled_s", "first flag → last triage message (s)"),
    ("calls", "Slack Web API calls"),
    ("calls_429", "  answered 429"),
    ("confirmed_once", "reporters confirmed exactly once"),
    ("delivered_twice", "messages delivered twice"),
)
THROTTLED = "429 "
"""Prefix of the figures counting 429s per method."""
RATIO_TARGET = 1.2
SHARE_TARGET = 0.05


def _values(runs: Sequence[Run], phase: str, key: str) -> list[float]:
    return [run[phase][key] for run in runs if phase in run and key in run[phase]]


def _percent(values: Sequence[float]) -> str:
    present = [v for v in values if not math.isnan(v)]
    if not present:
        return "n/a"
    low, high = f"{min(present):.1%}", f"{max(present):.1%}"
    return low if low == high else f"{low}–{high}"


def render(runs: Sequence[Run], header: Sequence[str]) -> list[str]:
    lines = [f"== bench.surge: {len(runs)} run(s); ranges over the runs ==", *header, ""]
    phases = [p for p in ("surge", "baseline") if any(p in run for run in runs)]
    if phases:
        lines += _folding(runs, phases)
    if any("pacing" in run for run in runs):
        lines += _pacing(runs)
    return lines


def _folding(runs: Sequence[Run], phases: list[str]) -> list[str]:
    titles = {"surge": "surge folding on", "baseline": "off (no surge:)"}
    width = max(len(label) for _, label in ROWS) + 2
    lines = [f"{'':<{width}}" + "".join(f"{titles[p]:>20}" for p in phases)]
    for key, label in ROWS:
        cells = [span(_values(runs, p, key)) for p in phases]
        lines.append(f"{label:<{width}}" + "".join(f"{cell:>20}" for cell in cells))
        if key == "calls_429":
            share = [_percent(_values(runs, p, "share_429")) for p in phases]
            lines.append(f"{'  share answered 429':<{width}}" + "".join(f"{c:>20}" for c in share))
    lines += _throttled_by_method(runs, phases)
    return [*lines, ""]


def _throttled_by_method(runs: Sequence[Run], phases: list[str]) -> list[str]:
    methods = sorted(
        {key for run in runs for p in phases for key in run.get(p, {}) if key.startswith(THROTTLED)}
    )
    lines = []
    for key in methods:
        cells = [
            f"{p}: {span(_values(runs, p, key)) if _values(runs, p, key) else 0}" for p in phases
        ]
        lines.append(f"  {key} in " + ", ".join(cells))
    return lines


def _pacing(runs: Sequence[Run]) -> list[str]:
    ratio = _values(runs, "pacing", "cards_ratio")
    share = _values(runs, "pacing", "share_429")
    cards = _values(runs, "pacing", "case_cards")
    wanted = _values(runs, "pacing", "flags")
    twice = _values(runs, "pacing", "delivered_twice")
    confirmed = _values(runs, "pacing", "confirmed_once")
    worst_ratio = max((r for r in ratio if not math.isnan(r)), default=math.nan)
    worst_share = max((s for s in share if not math.isnan(s)), default=math.nan)
    once = all(c == w for c, w in zip(cards, wanted, strict=True)) and not any(twice)
    once = once and all(c == w for c, w in zip(confirmed, wanted, strict=True))

    def verdict(ok: bool, value: float) -> str:
        return "not measured" if math.isnan(value) else ("met" if ok else "NOT MET")

    return [
        f"pacing (surge folding off): {span(wanted)} flags at once for one triage channel, "
        f"paced, against Slack's limit (a burst of 4, then 1 chat.postMessage a second):",
        f"  last card after {span(_values(runs, 'pacing', 'cards_taken_s'))} s; Slack's limit "
        f"allows it after {span(_values(runs, 'pacing', 'cards_allowed_s'))} s",
        f"  time taken / time allowed: {span(ratio)} -> "
        f"{verdict(worst_ratio <= RATIO_TARGET, worst_ratio)} (target <= {RATIO_TARGET:g})",
        f"  calls answered 429: {_percent(share)} of {span(_values(runs, 'pacing', 'calls'))} -> "
        f"{verdict(worst_share < SHARE_TARGET, worst_share)} (target < {SHARE_TARGET:.0%})",
        f"  cards posted {span(cards)}, reporters confirmed once {span(confirmed)}, delivered "
        f"twice {span(twice)} -> {'each delivered once' if once else 'NOT each delivered once'}",
        *_throttled_by_method(runs, ["pacing"]),
        "",
    ]
