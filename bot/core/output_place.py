"""Where a flagged Slack message lives, as the key that brings its reports into one case.

A reaction gives the message's channel and ts; an ingest API report may give its permalink
instead. Both come to the same key, so a flag in Slack and a report through the API of the same
message meet in one case.
"""

from __future__ import annotations

import re

_PERMALINK = re.compile(r"/archives/(?P<channel>[CDG][A-Z0-9]+)/p(?P<sec>\d{10})(?P<frac>\d{6})")


def slack_output_key(channel_id: str, ts: str) -> str:
    return f"slack:{channel_id}:{ts}"


def parse_slack_permalink(link: str) -> tuple[str, str] | None:
    """(channel, ts) of a Slack message permalink."""
    match = _PERMALINK.search(link)
    if match is None:
        return None
    return match["channel"], f"{match['sec']}.{match['frac']}"
