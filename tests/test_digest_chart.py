"""The digest's chart as people see it: the weekly bars, and the top themes under them; names
and theme labels from users never break it or crowd it."""

from __future__ import annotations

import struct

import pytest

from digests.chart import LABEL_CHARS, _label, render_chart
from digests.model import WeeklyDigest
from tests.test_digest_render import big_digest
from tests.test_digest_render_sections import theme


def size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def with_themes(digest: WeeklyDigest, labels: list[str]) -> WeeklyDigest:
    return digest.model_copy(update={"themes": [theme(i, label) for i, label in enumerate(labels)]})


@pytest.mark.parametrize(
    "name",
    [
        r"costs $\nosuchcommand{x}$ a lot",  # mathtext matplotlib cannot parse
        r"$\frac{a}{b}$ and $5",
        "$$",
        "tab\tand\nnewline",
    ],
)
def test_names_matplotlib_would_read_as_math_still_draw(name: str) -> None:
    digest = big_digest(systems=3, system_name=name)

    assert size(render_chart(digest)) == (800, 320)
    assert size(render_chart(with_themes(digest, [name, name + " again"])))[1] > 320


def test_the_top_themes_get_a_panel_of_their_own() -> None:
    digest = big_digest(systems=2)
    two = with_themes(digest, ["refund policy", "casual tone"])
    seven = with_themes(digest, [f"theme {i}" for i in range(7)])

    assert size(render_chart(digest))[1] < size(render_chart(two))[1]
    assert (
        size(render_chart(two))[1]
        < size(render_chart(seven))[1]
        == size(render_chart(with_themes(digest, [f"theme {i}" for i in range(5)])))[1]
    )  # five themes at most


def test_long_names_are_cut_in_the_middle_so_they_stay_apart() -> None:
    first = _label("A long AI system name from routing.yaml that nobody shortened: Support")
    second = _label("A long AI system name from routing.yaml that nobody shortened: Coding")

    assert first != second
    assert len(first) == len(second) == LABEL_CHARS
    assert first.endswith("Support") and "…" in first
