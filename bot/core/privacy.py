"""Keeping personal data out of stored reports: redaction and excerpts."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

KINDS = ("email", "phone", "card_number")

_EMAIL = re.compile(
    r"(?<![\w.+%-])"
    r"[\w.+%-]+@"
    r"(?!\d+x\.(?:png|jpe?g|gif|webp|svg)\b)"  # retina image names: logo@2x.png
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,}\b"
)

# A run of digits separated by single spaces or dashes (how card numbers are written).
_DIGIT_RUN = re.compile(r"(?<![\w.,/-])\d++(?:[ -]\d++)*+(?![\w/]|[.,:-]\d)")

# A run of digits, spaces, dashes, dots and brackets, optionally after "+" or "00": a phone
# candidate, trimmed and then judged by _is_phone.
_PHONE_RUN = re.compile(r"(?<![\w@+/.,-])(?:\+|\()?\d(?:[ ().-]{0,3}\d)*+\)?(?![\w/]|[,:]\d)")
_YEAR_RANGE = re.compile(r"(?:19|20)\d\d ?- ?(?:19|20)\d\d")
_DATE = re.compile(r"\d{4}[-. ]\d{1,2}[-. ]\d{1,2}|\d{1,2}[-. ]\d{1,2}[-. ]\d{2,4}")
_THOUSANDS = re.compile(r"\d{1,3}(?: \d{3})+")
_US_DOTTED = re.compile(r"\(?\d{3}\)?\.\d{3}\.\d{4}")
_US_LOCAL = re.compile(r"\d{3}[- ]\d{4}")


def redact(text: str, kinds: Iterable[str]) -> str:
    """Replace emails with [email], card numbers with [card], phone numbers with [phone]."""
    wanted = set(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(
            f"unknown redaction kind(s) {', '.join(sorted(unknown))}; use {', '.join(KINDS)}"
        )
    steps: list[Callable[[str], str]] = []
    if "email" in wanted:
        steps.append(lambda s: _EMAIL.sub("[email]", s))
    if "card_number" in wanted:
        steps.append(lambda s: _DIGIT_RUN.sub(_replace_cards, s))
    if "phone" in wanted:
        steps.append(lambda s: _PHONE_RUN.sub(_replace_phone, s))
    for step in steps:
        text = step(text)
    return text


def excerpt(text: str | None, limit: int = 1000) -> str | None:
    """Trim whitespace; cut a longer text at a word boundary, ending it with "…".

    Blank text gives None. The result is at most `limit` characters long.
    """
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    if len(text) <= limit:
        return text
    if limit < 2:
        return "…"[:limit]
    cut = text[: limit - 1]
    if not text[limit - 1].isspace():
        boundary = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
        if boundary > limit // 2:
            cut = cut[:boundary]
    return cut.rstrip(" \t\n,;:-") + "…"


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum used by payment cards."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _replace_cards(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = re.sub(r"\D", "", run)
    if _is_card(digits):
        return "[card]"
    if len(digits) < 13:
        return run
    # A longer run of numbers may hold a card number among other figures: look for the
    # longest window of whole groups that is one.
    groups = re.split(r"([ -])", run)
    numbers, separators = groups[0::2], groups[1::2]
    best: tuple[int, int] | None = None
    for start in range(len(numbers)):
        for end in range(len(numbers), start, -1):
            if _is_card("".join(numbers[start:end])) and (
                best is None or end - start > best[1] - best[0]
            ):
                best = (start, end)
                break
    if best is None:
        return run
    start, end = best

    def join(lo: int, hi: int) -> str:
        out = numbers[lo] if lo < hi else ""
        for i in range(lo + 1, hi):
            out += separators[i - 1] + numbers[i]
        return out

    before = join(0, start) + (separators[start - 1] if start else "")
    after = (separators[end - 1] if end < len(numbers) else "") + join(end, len(numbers))
    return before + "[card]" + after


def _replace_phone(match: re.Match[str]) -> str:
    run = match.group(0)
    # Trim what the greedy run took after the number: punctuation, spaces, an unmatched ")".
    candidate = run.rstrip(" .-(")
    while candidate.endswith(")") and candidate.count(")") > candidate.count("("):
        candidate = candidate[:-1].rstrip(" .-(")
    lead = ""
    if candidate.startswith("(") and candidate.count("(") > candidate.count(")"):
        lead, candidate = "(", candidate[1:]
    tail = run[len(lead) + len(candidate) :]
    if _is_phone(candidate):
        return lead + "[phone]" + tail
    return run


def _is_phone(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if candidate.startswith("+"):
        return 8 <= len(digits) <= 15 and not re.search(r"[ .()-]{3}", candidate)
    if candidate.startswith("00") and len(digits) >= 10:
        return len(digits) <= 17
    if not 7 <= len(digits) <= 12 or re.search(r"[ .()-]{3}|[.-]{2}", candidate):
        return False
    if (
        _YEAR_RANGE.fullmatch(candidate)
        or _DATE.fullmatch(candidate)
        or _THOUSANDS.fullmatch(candidate)
    ):
        return False
    if "." in candidate:  # versions, IP addresses, decimals: only 555.123.4567 is a phone
        return bool(_US_DOTTED.fullmatch(candidate))
    groups = re.findall(r"\d+", candidate)
    if len(groups) == 1:  # a bare digit string is a phone only as a national 0… number
        return candidate.startswith("0") and 10 <= len(digits) <= 11
    if any(len(group) < 2 for group in groups[1:]):
        return False
    if candidate.startswith(("0", "(")):
        return True
    return len(groups) >= 3 or bool(_US_LOCAL.fullmatch(candidate))
