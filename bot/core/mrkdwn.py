"""Slack mrkdwn from untrusted text: the one place where words become markup.

Everything a reporter, an owner, an AI output, an ingest client or `routing.yaml` says reaches
Slack through `escape`, and every link or mention the bot makes goes through `link` or
`mention`. So the only markup in a message is the bot's own.

The rules, and why each is enough:

- `&`, `<` and `>` become `&amp;`, `&lt;` and `&gt;`, as Slack asks. Every special form of
  mrkdwn (`<!channel>`, `<!here>`, `<@U…>`, `<#C…>`, `<!subteam^…>`, `<url|label>`) starts
  with `<`, so none can come from escaped text, and a line cannot open a quote with `>`.
  Bare `@here` or `#general` are inert anyway: the bot posts with Slack's default `parse=none`
  and without `link_names`.
- The formatting markers `*`, `_`, `~` and `` ` `` only open or close a span next to a word
  boundary; inside a word (`snake_case`, `tr_123`) Slack leaves them alone, and so do we, so
  ids stay copyable. A marker at a boundary gets a zero-width space on both sides. Slack wants
  an opening marker after a boundary and before a non-space, and a closing one after a
  non-space and before a boundary: whether Slack counts the zero-width space as a space or as
  a letter, one side of the marker breaks its rule, so the marker stays a literal character
  and cannot end the bot's own bold or italic early. A zero-width *space* rather than a
  joiner: a joiner next to an emoji fuses it with its neighbour.
- Bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069) are dropped: inside
  user text they would reverse the bot's own words that follow it on the line.

Lengths are budgets: `escape(text, limit)` chooses the cut on the source text, so an entity or
a marker is never split, and ends the cut text with an ellipsis. `shorten` cuts markup that is
already composed without splitting an entity, a `<…>` the bot made, or a guarded marker.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"
ZWSP = "\u200b"
MARKERS = frozenset("*_~`")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_SPECIAL = re.compile("[&<>*_~`\u202a-\u202e\u2066-\u2069]")
"""What `escape` changes: text without any of it is its own escape (most text is)."""
_SLACK_ENTITIES = re.compile("&(amp|lt|gt);")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,40}$")
_SAFE_URL = re.compile(r"^https?://[^\s<>|\"]+$")


def escape(text: str, limit: int | None = None) -> str:
    """Untrusted text as inert mrkdwn, at most `limit` characters (ending in … when cut)."""
    if _SPECIAL.search(text) is None:  # each character is its own piece: cut it as such
        if limit is None or len(text) <= limit:
            return text
        return text[: max(limit - len(ELLIPSIS), 0)].rstrip() + ELLIPSIS
    return escape_by_pieces(text, limit)


def escape_by_pieces(text: str, limit: int | None = None) -> str:
    """`escape` the long way, for any text."""
    pieces = _pieces(_BIDI.sub("", text))
    if limit is None or sum(len(p) for p in pieces) <= limit:
        return "".join(pieces)
    budget, used, kept = limit - len(ELLIPSIS), 0, []
    for piece in pieces:
        if used + len(piece) > budget:
            break
        kept.append(piece)
        used += len(piece)
    return "".join(kept).rstrip() + ELLIPSIS


def _pieces(text: str) -> list[str]:
    """What each source character becomes: one piece each, so a cut never splits one."""
    pieces = []
    last = len(text) - 1
    for i, char in enumerate(text):
        if char in _ENTITIES:
            pieces.append(_ENTITIES[char])
        elif char in MARKERS and not (
            0 < i < last and text[i - 1].isalnum() and text[i + 1].isalnum()
        ):
            pieces.append(ZWSP + char + ZWSP)
        else:
            pieces.append(char)
    return pieces


def from_slack(text: str) -> str:
    """Message text as Slack delivered it (already entity-escaped) back to what people saw,
    so that escaping it again shows `<`, not `&lt;`. Its mentions and links then show as the
    literal markup they are: the bot re-posts them as words, never as pings or links."""
    return _SLACK_ENTITIES.sub(lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m[1]], text)


def mention(user_id: str | None, fallback: str = "someone") -> str:
    """A mention of a Slack user, or the inert words when the id is not a Slack user id (an
    ingest client can name any string as a reporter's `slack_id`)."""
    if not user_id:
        return escape(fallback)
    if _USER_ID.match(user_id):
        return f"<@{user_id}>"
    return escape(user_id)


def link(url: str | None, label: str) -> str:
    """A link the bot makes: `label` linked to `url`, or just the label when the URL is not a
    plain http(s) address (a `|` or `>` in it would rewrite the link's own markup)."""
    if not url or not _SAFE_URL.match(url):
        return escape(label)
    # Slack has no escape for `|`; a lookalike keeps a label from being read as two parts.
    shown = escape(label).replace("|", "∣") or "link"
    return f"<{url.replace('&', '&amp;')}|{shown}>"


def shorten(markup: str, limit: int) -> str:
    """Composed mrkdwn cut to `limit` characters with an ellipsis, never inside an entity, a
    `<…>` token or a guarded marker."""
    if len(markup) <= limit:
        return markup
    head = markup[: max(limit - len(ELLIPSIS), 0)]
    opened = head.rfind("<")
    if opened > head.rfind(">"):
        head = head[:opened]
    amp = head.rfind("&")
    if amp > head.rfind(";") and len(head) - amp < len("&amp;"):
        head = head[:amp]
    if head[-1:] in MARKERS and head[-2:-1] == ZWSP:
        head = head[:-2]  # a guard cut after its marker
    elif head.endswith(ZWSP) and not (head[-2:-1] in MARKERS and head[-3:-2] == ZWSP):
        head = head[:-1]  # a guard cut before its marker
    return head.rstrip() + ELLIPSIS
