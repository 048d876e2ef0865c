"""`python -m bench.surge` at a tiny size: it runs the app in its own process, paced, against
the realistic fake Slack, prints the figures a person would read, and the surge run folds.

Run as a command, as a person runs it (tests and benchmarks do not import each other). The
surge phase takes at least 15 s: the surge card's update waits for its 15-second step.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def bench_surge(*args: str) -> tuple[dict[str, dict[str, float]], str]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.surge", "--json", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    [run] = [json.loads(line) for line in lines if line.startswith('{"run"')]
    figures: dict[str, dict[str, float]] = run["figures"]
    return figures, "\n".join(line for line in lines if not line.startswith("{"))


def test_the_surge_run_folds_into_one_surge_card_and_one_owner_dm() -> None:
    figures, report = bench_surge(
        "--phases", "surge", "--flags", "6", "--surge-cases", "2", "--spread", "0.5"
    )
    surge: dict[str, Any] = figures["surge"]
    assert surge["flags_acked"] == 6
    # The first two cases were announced on their own; the third opened the surge.
    assert surge["case_cards"] == 2
    assert surge["surge_posts"] == 1
    assert surge["surge_updates"] >= 1  # it came to show the cases folded after it opened
    assert surge["owner_surge_dms"] == 1
    assert surge["owner_dms"] == 3  # two case DMs before the surge, then one for all of it
    assert surge["confirmed_once"] == 6
    assert surge["delivered_twice"] == 0
    assert 0 < surge["surge_card_s"] < surge["triage_settled_s"]
    assert surge["filed_s"] > 0 and not math.isnan(surge["owner_surge_dm_s"])
    for row in (
        "surge folding on",
        "first flag → surge card posted (s)",
        "first flag → owner's surge DM (s)",
        "first flag → every case filed with its timers (s)",
        "  answered 429",
        "reporters confirmed exactly once",
    ):
        assert row in report


def test_pacing_is_judged_against_slacks_limit_and_each_card_is_delivered_once() -> None:
    figures, report = bench_surge("--phases", "pacing", "--cards", "6")
    pacing = figures["pacing"]
    assert pacing["case_cards"] == 6 and pacing["surge_posts"] == 0
    assert pacing["owner_dms"] == 6
    assert pacing["confirmed_once"] == 6
    assert pacing["delivered_twice"] == 0
    # A burst of 4, then one a second: the sixth card no sooner than 2 s after the first flag.
    assert pacing["cards_allowed_s"] == 2
    assert pacing["cards_taken_s"] >= 2
    assert pacing["cards_ratio"] == pacing["cards_taken_s"] / 2
    assert "time taken / time allowed" in report
    assert "each delivered once" in report and "NOT each delivered once" not in report
