"""The table: figures, targets, PASS/MISSED."""

from __future__ import annotations

import math

from bench.escalation.cards import CardRun
from bench.escalation.timers import TimerRun
from bench.stats import percentile

CARD_P95_TARGET_MS = 250.0
TIMERS_TARGET_S = 20.0


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.1f} ms"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISSED"


def _table(rows: list[tuple[str, str, str, str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for number, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def render_cards(run: CardRun) -> list[str]:
    lat = run.latencies_ms
    p95 = percentile(lat, 95)
    p95_ok = not math.isnan(p95) and p95 < CARD_P95_TARGET_MS and run.missing_cases == 0
    where = "a child process" if not run.inline else "the bot's own event loop (--inline)"
    lines = [
        "(1) flag → card latency",
        f"    database: {run.database.label}",
        f"    {run.flags} reaction_added flags on distinct AI messages, open loop at "
        f"{run.rate:g}/s; tick_seconds {run.tick_seconds:g} (default; the outbox is woken by "
        "enqueueing, not the tick)",
        f"    fake Slack Web API and event sender in {where}",
        "    latency = request sent → fake Slack receives chat.postMessage 'Case #<id> ·' to "
        "C0TRIAGE",
        "",
    ]
    rows = [
        ("figure", "value", "target", "verdict"),
        ("flag → card p50", _ms(percentile(lat, 50)), "", ""),
        ("flag → card p95", _ms(p95), f"< {CARD_P95_TARGET_MS:g} ms", _verdict(p95_ok)),
        ("flag → card p99", _ms(percentile(lat, 99)), "", ""),
        ("flag → card max", _ms(max(lat) if lat else math.nan), "", ""),
        (
            "cards / cases / flags",
            f"{run.cards} / {run.cases} / {run.flags}",
            "one card per case",
            _verdict(run.one_card_each),
        ),
        ("cases with >1 card", str(run.duplicated_cases), "0", ""),
        ("flags without a card", str(run.missing_cases), "0", ""),
        (
            "ack (HTTP 200) p50 / p95",
            f"{_ms(percentile(run.ack_ms, 50))} / {_ms(percentile(run.ack_ms, 95))}",
            "",
            "",
        ),
        ("non-200 answers", str(run.non_200 + len(run.errors)), "0", ""),
        ("achieved send rate", f"{run.achieved_rate:,.1f}/s", "", ""),
        ("max send lag", _ms(run.max_send_lag_ms), "", ""),
        ("last card after last flag", f"{run.last_card_after_s:,.2f} s", "", ""),
        (
            "bot CPU per flag (all its work)",
            f"{1000 * run.cpu_seconds / run.flags:,.1f} ms",
            "",
            "",
        ),
        (
            "bot process CPU / wall",
            f"{run.cpu_seconds:,.1f} s / {run.wall_seconds:,.1f} s "
            f"({100 * run.cpu_seconds / run.wall_seconds if run.wall_seconds else 0:.0f}%)",
            "",
            "",
        ),
    ]
    lines += ["    " + line for line in _table(rows)]
    if run.ticks_skipped or run.ticks_cancelled:
        lines.append(
            f"    timer ticker: {run.ticks_skipped} ticks skipped because the previous fire_due() "
            f"round was still running; {run.ticks_cancelled} round(s) cancelled at shutdown"
        )
    for error in run.errors[:5]:
        lines.append(f"    error: {error}")
    return lines


def render_timers(run: TimerRun, note: str | None = None) -> list[str]:
    ok_time = run.wall_seconds < TIMERS_TARGET_S and run.acted == run.timers
    rate = run.acted / run.wall_seconds if run.wall_seconds > 0 else math.nan
    lines = [
        "(2) timer-claim throughput",
        f"    database: {run.database.label}" + (f" ({note})" if note else ""),
        f"    {run.timers} due step-0 escalation timers (one per case, notify the owner), "
        f"{run.workers} TimerServices over {run.workers} SqlCaseStores/engines, fire_due() "
        "concurrently in one event loop, ManualClock past every due time",
        "    notices are enqueued to the outbox only (not delivered in this phase)",
    ]
    if run.database.kind == "sqlite":
        lines.append(
            "    SQLite: one writer at a time (BEGIN IMMEDIATE + busy_timeout): the workers "
            "take turns, they do not run in parallel"
        )
    lines.append("")
    rows = [
        ("figure", "value", "target", "verdict"),
        (
            f"wall time to fire {run.timers}",
            f"{run.wall_seconds:,.2f} s",
            f"< {TIMERS_TARGET_S:g} s",
            _verdict(ok_time),
        ),
        ("timers fired / s", f"{rate:,.0f}", "", ""),
        ("fired per worker", " + ".join(str(n) for n in run.per_worker), "", ""),
        (
            "CPU per timer",
            f"{1000 * run.cpu_seconds / run.timers:,.2f} ms",
            "",
            "",
        ),
        (
            "bench process CPU / wall",
            f"{run.cpu_seconds:,.1f} s / {run.wall_seconds:,.1f} s "
            f"({100 * run.cpu_seconds / run.wall_seconds if run.wall_seconds else 0:.0f}%)",
            "",
            "",
        ),
        (
            "acted (sum) / expected",
            f"{run.acted} / {run.timers}",
            "none twice",
            _verdict(run.exactly_once),
        ),
        ("timer rows fired / unfired", f"{run.fired_rows} / {run.unfired_rows}", "", ""),
        (
            "'escalated' entries / cases, max per case",
            f"{run.escalated_entries} / {run.escalated_cases}, {run.max_escalated_per_case}",
            "",
            "",
        ),
        ("outbox messages enqueued", str(run.outbox_messages), "", ""),
        ("due after the race (re-run)", str(run.left_over), "0", ""),
        ("setup (bulk insert, untimed)", f"{run.setup_seconds:,.2f} s", "", ""),
    ]
    lines += ["    " + line for line in _table(rows)]
    return lines
