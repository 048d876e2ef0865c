import pytest

from bot.core.privacy import excerpt, luhn_valid, redact

ALL = ["email", "phone", "card_number"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to alice.smith+ai@example.co.uk today", "write to [email] today"),
        ("Contact: BOB@Example.COM.", "Contact: [email]."),
        ("<mailto:carol@example.com|carol@example.com>", "<mailto:[email]|[email]>"),
        ("two: a@b.io, c_d@e-f.org", "two: [email], [email]"),
    ],
)
def test_emails_are_masked(text: str, expected: str) -> None:
    assert redact(text, ["email"]) == expected


@pytest.mark.parametrize(
    "phone",
    [
        "+44 20 7946 0958",
        "+1 (555) 123-4567",
        "+15551234567",
        "+49 30 1234567",
        "+33 1 23 45 67 89",
        "0044 20 7946 0958",
        "(555) 123-4567",
        "555-123-4567",
        "555 123 4567",
        "555.123.4567",
        "555-1234",
        "020 7946 0958",
        "07700 900123",
        "07700900123",
    ],
)
def test_phone_numbers_are_masked(phone: str) -> None:
    assert redact(f"Call me on {phone}, thanks", ["phone"]) == "Call me on [phone], thanks"


def test_slack_formatted_phone_link_is_masked_on_both_sides() -> None:
    text = "ring <tel:+15551234567|+1 555 123 4567> now"
    assert redact(text, ["phone"]) == "ring <tel:[phone]|[phone]> now"


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "5500 0000 0000 0004",
        "3782 822463 10005",  # American Express, 15 digits
    ],
)
def test_card_numbers_that_pass_luhn_are_masked(card: str) -> None:
    assert redact(f"my card is {card}, expiry soon", ["card_number"]) == (
        "my card is [card], expiry soon"
    )


def test_card_number_among_other_figures_is_still_masked() -> None:
    assert redact("ref 1234 4111 1111 1111 1111 end", ["card_number"]) == "ref 1234 [card] end"


def test_number_failing_luhn_is_not_taken_for_a_card() -> None:
    assert not luhn_valid("4111111111111112")
    text = "tracking 4111 1111 1111 1112"
    assert redact(text, ["card_number"]) == text


@pytest.mark.parametrize(
    "text",
    [
        "In 2024 we moved to Python version 3.11.4 and then 3.12",
        "Released 2024-01-15 10:30:00 UTC, again on 15.01.2024",
        "Server 192.168.100.200 answered in 1234567 µs",
        "Revenue was $1,234,567 and 1 000 000 users signed up",
        "Covers 2019-2024; processed 10000-20000 rows per batch",
        "Slack ts 1712345678.123456, order #12345678, ISBN 978-3-16-148410-0",
        "Use logo@2x.png and ping @here in #general",
        "Step 1 2 3 4 5 6 7 of the recipe; 37.50 per unit",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text, ALL) == text


def test_all_kinds_together() -> None:
    text = (
        "User jane.doe@corp.example (+44 7700 900123) paid with 4111 1111 1111 1111 "
        "on 2024-03-01 for order 20240301."
    )
    assert redact(text, ALL) == (
        "User [email] ([phone]) paid with [card] on 2024-03-01 for order 20240301."
    )


def test_only_the_requested_kinds_are_masked() -> None:
    text = "alice@example.com, +44 20 7946 0958, 4111 1111 1111 1111"
    assert redact(text, ["email"]) == "[email], +44 20 7946 0958, 4111 1111 1111 1111"
    assert redact(text, []) == text


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="ssn"):
        redact("text", ["ssn"])


def test_excerpt_trims_and_keeps_short_text() -> None:
    assert excerpt("  The answer is 42.\n") == "The answer is 42."
    assert excerpt(None) is None
    assert excerpt(" \n\t ") is None


def test_excerpt_cuts_long_text_at_a_word_boundary() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 10
    cut = excerpt(text, 50)
    assert cut is not None
    assert len(cut) <= 50
    assert cut.endswith("…")
    body = cut.removesuffix("…")
    assert text.startswith(body)
    assert text[len(body)] == " "  # the cut falls between words, not inside one
    assert cut == "The quick brown fox jumps over the lazy dog. The…"


def test_excerpt_cuts_a_single_overlong_word_hard() -> None:
    assert excerpt("x" * 100, 10) == "xxxxxxxxx…"


def test_excerpt_of_exactly_limit_characters_is_untouched() -> None:
    assert excerpt("abcde fghij", 11) == "abcde fghij"
