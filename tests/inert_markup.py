"""Checks that hostile text came out of a renderer as text: Markdown (Teams' TextBlocks and
messages, the Markdown digest) parsed by a real CommonMark parser, with HTML on as Teams
messages have it, and GFM tables and strikethrough on as the Markdown digest's readers have."""

from __future__ import annotations

from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

EVIL = "https://evil.example"
HOSTILE = [
    f"[the refund page]({EVIL})",
    f"![pixel]({EVIL}/p.png)",
    "**bold** and _italic_ and ~~gone~~",
    "# heading",
    "<script>alert(1)</script>",
    "&amp; &lt;b&gt;",
    "a | b | c",
    '=HYPERLINK("https://evil.example","x")',
    "- item\n1. first\n> quote\n===",
    "`code` <at>Everyone</at> <https://evil.example>",
    "\u202eevil\u202c",
]
JAPANESE = ("日本語の長い説明です。" * 1000)[:10_000]
EMOJI = "😀👨‍👩‍👧🇫🇷" * 20
HOSTILE_TEXT = "\n".join(HOSTILE)

# Tokens no person's text may produce. The bot's own markup (its bold labels, its case
# thread link) is checked separately by what it contains.
MARKUP = {
    "link_open",
    "image",
    "html_inline",
    "html_block",
    "heading_open",
    "lheading_open",
    "strong_open",
    "em_open",
    "s_open",
    "code_inline",
    "code_block",
    "fence",
    "bullet_list_open",
    "ordered_list_open",
    "blockquote_open",
    "table_open",
    "hr",
}


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def tokens(markdown: str) -> list[Token]:
    """Every token, inline children included, in document order."""
    found: list[Token] = []
    for token in _parser().parse(markdown):
        found.append(token)
        found.extend(token.children or [])
    return found


def markup_in(markdown: str) -> list[str]:
    """The markup a Markdown text renders, as "type" or "link_open → href"."""
    found = []
    for token in tokens(markdown):
        if token.type in MARKUP:
            href = token.attrGet("href") or token.attrGet("src")
            found.append(f"{token.type} → {href}" if href else token.type)
    return found


def shown_text(markdown: str) -> str:
    """The characters a reader sees, lines joined by spaces."""
    parts = []
    for token in tokens(markdown):
        if token.type == "text":
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak") or (token.block and token.nesting < 0):
            parts.append(" ")  # a line break, or the end of a paragraph
    return "".join(parts)


def markdown_texts(node: Any) -> list[str]:
    """Every string Teams renders as markdown in an activity or card: TextBlock texts, fact
    titles and values, and a markdown message's text."""
    texts: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "TextBlock" and isinstance(node.get("text"), str):
            texts.append(node["text"])
        if node.get("type") == "message" and node.get("textFormat") == "markdown":
            texts.append(str(node.get("text", "")))
        if node.get("type") == "FactSet":
            for fact in node.get("facts") or []:
                texts += [str(fact.get("title", "")), str(fact.get("value", ""))]
        for child in node.values():
            texts += markdown_texts(child)
    elif isinstance(node, list):
        for child in node:
            texts += markdown_texts(child)
    return texts


def assert_inert(markdown: str, *, allowed: tuple[str, ...] = ()) -> None:
    """No markup from a person's text: only `allowed` markup (the bot's own) may appear, and
    no link may lead anywhere but where the bot links."""
    found = [m for m in markup_in(markdown) if not m.startswith(allowed)]
    assert found == [], (found, markdown[:300])
    assert EVIL not in " ".join(markup_in(markdown)), markdown[:300]
