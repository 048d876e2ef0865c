from datetime import timedelta

import pytest

from bot.core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0m", timedelta(0)),
        ("0", timedelta(0)),
        ("30s", timedelta(seconds=30)),
        ("45m", timedelta(minutes=45)),
        ("4h", timedelta(hours=4)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        (" 4h ", timedelta(hours=4)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("90m", timedelta(minutes=90)),
    ],
)
def test_parse_duration_accepts_units_and_compounds(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["4x", "", "   ", "-1h", "h", "4", "1.5h", "30m1h", "4 hours", "4H", "1h1h"]
)
def test_parse_duration_refuses_anything_else_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_duration(text)
    assert str(raised.value) == f"invalid duration '{text}' (use e.g. 30m, 4h, 1d)"


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(0), "0m"),
        (timedelta(days=1), "1d"),
        (timedelta(hours=4), "4h"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(weeks=2), "2w"),
        (timedelta(days=10), "10d"),
        (timedelta(days=30), "30d"),
        (timedelta(days=1, hours=12), "1d12h"),
        (timedelta(seconds=30, microseconds=500), "30s"),
    ],
)
def test_format_duration_writes_the_canonical_form(td: timedelta, text: str) -> None:
    assert format_duration(td) == text
    assert parse_duration(text) == timedelta(seconds=int(td.total_seconds()))


def test_format_duration_refuses_negative_durations() -> None:
    with pytest.raises(ValueError):
        format_duration(timedelta(hours=-1))
