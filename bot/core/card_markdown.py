"""Untrusted text made inert for the markdown Teams renders: Adaptive Card TextBlocks (the case
card, the digest card, dialogs) and Teams messages sent with `textFormat: markdown`.

What those surfaces treat as markup (Adaptive Cards "Text features"; Teams "Format cards in
Teams" and "Format your bot messages"):
- a TextBlock, and a FactSet's titles and values in Teams, render a CommonMark subset:
  `**bold**`, `_italic_`, `- ` bullet and `1. ` numbered lists, `[title](url)` links. Headings,
  tables and images are documented as unsupported, but the desktop, web and mobile clients use
  different parsers, so everything CommonMark would read as markup is escaped here;
- a markdown message also renders headings, `>` quotes, code, `~~strike~~`, and HTML-ish tags
  and entities (`<at>`, `<b>`, `&amp;`).

So: `&`, `<`, `>` become entities (a `<script>` or `<at>` someone typed is shown as text, and an
`&amp;` they typed is shown as typed); ASCII punctuation that starts emphasis, code, links or
tables gets a CommonMark backslash escape; and so do the characters that make a line a heading,
list item or setext underline. Clients that ignore a backslash escape (older Teams mobile ones
did, for `*`) show the backslash: untidy, still inert. Bare URLs stay as typed: Teams may link
them, but a bare URL shows where it goes; only links the bot builds have a label.
"""

from __future__ import annotations

import re

# Embedding, override and isolate controls reorder what follows them on the line: an RLO in a
# comment can make the rest of a card line read backwards ("Trojan source"). Marks (LRM, RLM)
# stay: they only nudge neutral characters and right-to-left writers use them.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# C0 controls other than tab and newline, and DEL: never text, and some clients choke on them.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_HTML = re.compile(r"[&<>]")
# `(` and `)` are left as typed: they only make a link after a `]`, and `]` is always escaped;
# escaping them would put backslashes in every "(note)" on clients that show escapes.
_INLINE = re.compile(r"([\\`*_~\[\]|])")
# At a line start (after indentation): ATX heading, bullet, setext underline.
_LINE_START = re.compile(r"^([ \t]*)([#+=-])", re.MULTILINE)
# "1." or "1)" at a line start: an ordered list item.
_ORDERED = re.compile(r"^([ \t]*\d+)([.)])", re.MULTILINE)


def plain(text: str) -> str:
    """The text without controls that have no business in a card, newlines made `\\n`."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", _BIDI_CONTROLS.sub("", text))


def inert(text: str) -> str:
    """`text` as Teams markdown that renders as exactly these characters, never as markup."""
    text = _HTML.sub(lambda m: _ENTITIES[m[0]], plain(text))
    text = _INLINE.sub(r"\\\1", text)
    text = _ORDERED.sub(r"\1\\\2", text)
    return _LINE_START.sub(r"\1\\\2", text)
