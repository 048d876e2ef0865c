"""What the core holds outside values to before anything reaches a store or a card."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.core.limits import MAX_ID, MAX_TEXT
from bot.core.models import Channel, FlaggedOutput, ReportDraft, Reporter


def test_an_id_of_100_kb_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as raised:
        Reporter(id="slack:" + "U" * 100_000)
    assert raised.value.errors()[0]["loc"] == ("id",)
    assert f"at most {MAX_ID}" in str(raised.value)


def test_an_id_with_a_nul_byte_is_refused() -> None:
    with pytest.raises(ValidationError):
        FlaggedOutput(key="slack:C1:1.2", channel_id="C1\x00")


def test_free_text_loses_nul_bytes_and_is_shortened_with_an_ellipsis() -> None:
    draft = ReportDraft(
        reporter=Reporter(id="slack:U1"),
        channel=Channel.api,
        category_id="other",
        comment="wrong\x00 answer\x07",
        expected="é" * (MAX_TEXT + 10),
    )
    assert draft.comment == "wrong answer"
    assert draft.expected is not None
    assert len(draft.expected) == MAX_TEXT and draft.expected.endswith("…")


def test_tabs_and_newlines_are_kept() -> None:
    output = FlaggedOutput(key="k", text="line one\n\tline two\r\n")
    assert output.text == "line one\n\tline two\r\n"
