"""`escape` takes a short cut for text with nothing to escape (most of what people write); the
short cut must give exactly what escaping piece by piece gives, cut included."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.core.mrkdwn import ELLIPSIS, escape, escape_by_pieces

TEXT = st.text(alphabet=st.sampled_from(list("ab1 _*&<>é🙂\u202e\u200b\n")), max_size=40) | st.text(
    max_size=40
)


@given(TEXT, st.none() | st.integers(min_value=0, max_value=45))
def test_the_short_cut_escapes_and_cuts_as_the_long_way_does(text: str, limit: int | None) -> None:
    assert escape(text, limit) == escape_by_pieces(text, limit)


def test_plain_text_over_its_budget_is_cut_with_an_ellipsis() -> None:
    assert escape("The refund window is 90 days.", 12) == "The refund" + ELLIPSIS
    assert escape("plain", None) == "plain"
