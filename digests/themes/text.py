"""Words from people's free text: markers stripped, lowercased, stop words out, bigrams in."""

from __future__ import annotations

import re

_MARKER = re.compile(r"^\s*\[[^\]\n]{1,24}\]\s*")
"""A leading provenance tag such as "[demo]": it says where a text came from, not what it says."""
_WORD = re.compile(r"[^\W_](?:[\w'’-]*[^\W_])?")
_SPACES = re.compile(r"\s+")
LONGEST_TERM = 32
"""Longer "words" are links, ids or pasted blobs, not what a theme is about; they would also
break the label's room on a chat card."""

_STOP_WORDS = """
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does
doesn't doing don't down during each even ever every few for from further get gets got had
hadn't has hasn't have haven't having he her here hers herself him himself his how i i'm if
in into is isn't it it's its itself just let's like me more most much must mustn't my myself
no nor not now of off on once one only or other ought our ours ourselves out over own really
same she should shouldn't so some still such than that that's the their theirs them
themselves then there there's these they they're this those through to too under until up
upon us very was wasn't we we're were weren't what what's when where which while who whom
why will with won't would wouldn't yet you you're your yours yourself yourselves answer
answered answers said says say told tells asked ask gave give gives instead thing things
something anything way ai bot assistant output
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
"""English function words, plus words every report uses ("answer", "said", "bot"), which
say nothing about what went wrong."""


def clean(text: str | None) -> str:
    """The text without a leading marker, on one line; "" for None."""
    if not text:
        return ""
    return _SPACES.sub(" ", _MARKER.sub("", text)).strip()


def words(text: str) -> list[str]:
    """Lowercased words, in order (apostrophes and hyphens inside a word kept, numbers out)."""
    return [w.replace("’", "'") for w in _WORD.findall(text.lower()) if not w.isdigit()]


def terms(text: str) -> list[str]:
    """The text's candidate label terms: content words and adjacent pairs of them."""
    found: list[str] = []
    previous: str | None = None
    for word in words(text):
        if word in STOP_WORDS or not 2 <= len(word) <= LONGEST_TERM:
            previous = None
            continue
        found.append(word)
        if previous is not None:
            found.append(f"{previous} {word}")
        previous = word
    return found
