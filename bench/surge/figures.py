"""A phase's figures (name → number) from what the fake Slack took and when.

Times are seconds from the first flag sent; the load generator and the fake stamp
`time.monotonic()`, one clock for every process on the machine.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from bench.honest.outside import CARD_PREFIX, TRIAGE_CHANNEL
from bench.ingest.events import Plan
from bench.ingest.load import LoadResult
from bench.surge.slack import Delivered, SlackLog
from tests.support.rate_limits import SlackLimits

Phase = dict[str, float]
OWNER = "U0ALICE"
"""The Support Assistant's validation owner in tests/data/routing.yaml."""
SURGE_MARK = "Surge"
SURGE_DM_MARK = "Surge on "


def _after(start: float, moments: Sequence[float]) -> float:
    return max(moments) - start if moments else math.nan


def _first(start: float, moments: Sequence[float]) -> float:
    return min(moments) - start if moments else math.nan


def _split(log: SlackLog) -> dict[str, list[Delivered]]:
    """The messages a person would tell apart, by what they are."""
    kinds: dict[str, list[Delivered]] = {
        "case_cards": [],
        "case_card_updates": [],
        "surge_posts": [],
        "surge_updates": [],
        "triage_thread": [],
        "owner_dms": [],
        "owner_surge_dms": [],
        "confirmations": [],
    }
    for message in log.delivered:
        surge = SURGE_MARK in message.text
        if message.method == "chat.postEphemeral":
            kinds["confirmations"].append(message)
        elif message.channel == OWNER and message.method == "chat.postMessage":
            kinds["owner_dms"].append(message)
            if SURGE_DM_MARK in message.text:
                kinds["owner_surge_dms"].append(message)
        elif message.channel != TRIAGE_CHANNEL:
            continue
        elif message.method == "chat.update":
            kinds["surge_updates" if surge else "case_card_updates"].append(message)
        elif message.threaded:
            kinds["triage_thread"].append(message)
        elif surge:
            kinds["surge_posts"].append(message)
        elif message.text.startswith(CARD_PREFIX):
            kinds["case_cards"].append(message)
    return kinds


def _delivered_twice(log: SlackLog) -> int:
    """Posts Slack took more than once: the same text to the same channel (each case's card,
    DM and confirmation names its case, so a repeat is a message delivered twice)."""
    posts = Counter(
        (m.method, m.channel, m.user, m.text)
        for m in log.delivered
        if m.method != "chat.update"  # a card refreshed to the same text is not seen twice
    )
    return sum(count - 1 for count in posts.values())


def figures(name: str, plan: Plan, result: LoadResult, filed: float | None, log: SlackLog) -> Phase:
    start = min(sample.sent for sample in result.samples)
    kinds = _split(log)
    triage = [m for m in log.delivered if m.channel == TRIAGE_CHANNEL]
    confirmed = Counter(m.user for m in kinds["confirmations"])
    calls = sum(log.calls.values())
    throttled = sum(log.throttled.values())
    out: Phase = {f"{kind}": float(len(found)) for kind, found in kinds.items()}
    out |= {
        "flags": float(len(plan.events)),
        "flags_acked": float(len(result.ok)),
        "last_flag_s": max(sample.sent for sample in result.samples) - start,
        "triage_messages": float(len(triage)),
        "owner_first_dm_s": _first(start, [m.at for m in kinds["owner_dms"]]),
        "surge_card_s": _first(start, [m.at for m in kinds["surge_posts"]]),
        "owner_surge_dm_s": _first(start, [m.at for m in kinds["owner_surge_dms"]]),
        "last_owner_dm_s": _after(start, [m.at for m in kinds["owner_dms"]]),
        "triage_settled_s": _after(start, [m.at for m in triage]),
        "filed_s": filed - start if filed is not None else math.nan,
        "calls": float(calls),
        "calls_429": float(throttled),
        "share_429": throttled / calls if calls else math.nan,
        "confirmed_once": float(sum(1 for e in plan.events if confirmed[e.user] == 1)),
        "delivered_twice": float(_delivered_twice(log)),
    }
    out |= {f"429 {method}": float(count) for method, count in log.throttled.items()}
    if name == "pacing":
        out |= _pacing(start, kinds["case_cards"], len(plan.events))
    return out


def _pacing(start: float, cards: list[Delivered], wanted: int) -> Phase:
    """Item 2 of issue #15: the cards' time against the least Slack's limit allows (its burst at
    once, then one a second), measured from the first flag."""
    limits = SlackLimits()
    allowed = max(0, wanted - limits.channel_burst) / limits.per_channel_per_second
    taken = _after(start, [m.at for m in cards])
    return {
        "cards_allowed_s": allowed,
        "cards_taken_s": taken,
        "cards_ratio": taken / allowed if allowed else math.nan,
    }
