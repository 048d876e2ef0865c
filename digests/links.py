"""Links from a digest to the Slack card of each case."""

from __future__ import annotations

from urllib.parse import quote, urlencode

APP_REDIRECT = "https://slack.com/app_redirect"


def card_link(channel: str | None, ts: str | None, permalink_base: str | None = None) -> str | None:
    """A link to the message `ts` in `channel`, or None when the card was never posted.

    With `permalink_base` ("https://acme.slack.com/archives") it is the message's permalink;
    without, a workspace-independent app_redirect link.
    """
    if not channel or not ts:
        return None
    if permalink_base:
        return f"{permalink_base.rstrip('/')}/{quote(channel)}/p{ts.replace('.', '')}"
    return f"{APP_REDIRECT}?{urlencode({'channel': channel, 'message_ts': ts})}"
