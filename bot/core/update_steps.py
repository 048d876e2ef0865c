"""Updates to one card that arrive close together share one update, sent at the end of their
step.

Slack allows `chat.update` about 50 times a minute per workspace (Tier 3), Teams a handful of
messages a second per conversation. A card rendered when it is sent shows everything that
happened before, so one update at the end of a step stands for every change within it: a
crowd flagging one answer, or a surge of new cases, costs one update per step, not one each.
"""

from __future__ import annotations

from datetime import datetime, timedelta

REFLAG_EVERY = timedelta(seconds=5)
"""A case card refreshed for new or updated reports is updated at most this often: the
reporter is told at once; the card's count follows within this."""


def step_end(start: datetime, now: datetime, every: timedelta) -> datetime:
    """The end of the step `now` falls in, steps of `every` counted from `start`."""
    steps = int((now - start) / every) + 1
    return start + steps * every
