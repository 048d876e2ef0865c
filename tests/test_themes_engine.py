"""Recurring themes on a fixed week: same input → same themes, labelled by their own words,
a case counted once per theme, change on last week; with the local model, with the TF-IDF
fallback, and without scipy."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from digests.model import Theme
from digests.themes import embed_wordllama
from digests.themes.embed_tfidf import TfidfEmbedder
from digests.themes.embed_wordllama import load_wordllama
from digests.themes.embedder import Embedder, load_embedder
from digests.themes.engine import find_themes
from digests.themes.model import ThemeInput
from digests.themes.section import themes_for_week
from digests.themes.vectors import Vectors
from digests.week import IsoWeek
from tests.themes_fixture import CURRENT, PREVIOUS, C, H, S


@pytest.fixture(scope="module", params=["wordllama", "tf-idf"])
def model(request: pytest.FixtureRequest) -> Embedder:
    return load_wordllama() if request.param == "wordllama" else TfidfEmbedder()


def by_word(themes: list[Theme], word: str) -> Theme:
    [found] = [t for t in themes if any(word in term for term in t.terms)]
    return found


def test_the_three_recurring_complaints_are_found_and_labelled(model: Embedder) -> None:
    themes = find_themes(CURRENT, PREVIOUS, model)

    assert len(themes) == 3  # the lone complaint (case 11) is on one case: no theme
    refund, casual, language = themes  # most cases first
    assert "refund" in refund.label
    assert "casual" in casual.label or "tone" in casual.label
    assert "french" in language.label or "english" in language.label
    assert [t.cases for t in themes] == [4, 3, 3]
    assert all(11 not in t.case_numbers for t in themes)


def test_a_case_counts_once_per_theme(model: Embedder) -> None:
    refund = by_word(find_themes(CURRENT, PREVIOUS, model), "refund")

    assert (refund.reports, refund.cases) == (6, 4)  # case 1 has three reports
    assert refund.case_numbers == [1, 2, 3]  # the most reported first, then by number
    assert refund.systems == [S, C, H]
    assert refund.categories == ["hallucination"]


def test_change_on_last_week(model: Embedder) -> None:
    themes = find_themes(CURRENT, PREVIOUS, model)

    refund, casual = by_word(themes, "refund"), by_word(themes, "casual")
    language = next(t for t in themes if t not in (refund, casual))
    assert (refund.change.current, refund.change.previous) == (6, 2)
    assert (casual.change.previous, language.change.previous) == (0, 4)
    assert language.change.delta == -1


def test_same_input_same_themes_in_any_order(model: Embedder) -> None:
    shuffled = list(CURRENT)
    random.Random(7).shuffle(shuffled)

    first = find_themes(CURRENT, PREVIOUS, model)
    assert find_themes(CURRENT, PREVIOUS, model) == first
    assert find_themes(shuffled, PREVIOUS[::-1], model) == first


def test_sampling_rounds_find_the_same_themes(model: Embedder) -> None:
    # Big weeks are agglomerated a sample at a time; the rest join the nearest theme.
    assert find_themes(CURRENT, PREVIOUS, model, sample_size=4) == find_themes(
        CURRENT, PREVIOUS, model
    )


def test_without_scipy_a_greedy_pass_finds_them(
    model: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "scipy.cluster.hierarchy", None)  # import fails
    themes = find_themes(CURRENT, PREVIOUS, model)

    assert [(t.cases, t.reports) for t in themes] == [(4, 6), (3, 4), (3, 3)]
    assert "refund" in themes[0].label


def test_an_output_excerpt_alone_makes_a_theme_and_names_it(model: Embedder) -> None:
    outputs = [
        ThemeInput(report_id=i, case_id=i, system_id=S, category_id="hallucination", output=text)
        for i, text in enumerate(
            [
                "Our 60-day refund policy covers opened items.",
                "Under the 60-day refund policy opened items get a full refund.",
                "Ready: the deployment pipeline finished.",
            ],
            start=1,
        )
    ]
    [theme] = find_themes(outputs, [], model)
    assert theme.case_numbers == [1, 2]
    assert "refund" in theme.label


def test_nothing_to_theme(model: Embedder) -> None:
    silent = [ThemeInput(report_id=1, case_id=1, system_id=S, category_id="other")]
    assert find_themes([], PREVIOUS, model) == []
    assert find_themes(silent, [], model) == []


def test_without_wordllama_the_fallback_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed_wordllama.importlib.util, "find_spec", lambda name: None)
    assert isinstance(load_embedder(), TfidfEmbedder)


def test_themes_json_shape(model: Embedder) -> None:
    dumped = find_themes(CURRENT, PREVIOUS, model)[0].model_dump(mode="json")
    assert set(dumped) == {
        "label", "terms", "reports", "cases", "systems", "categories", "change", "case_numbers",
    }  # fmt: skip
    assert dumped["change"] == {"current": 6, "previous": 2, "delta": 4, "ratio": 3.0}


class RecordingSource:
    def __init__(self) -> None:
        self.asked: list[tuple[datetime, datetime, Sequence[str] | None]] = []

    async def report_texts(
        self, start: datetime, end: datetime, systems: Sequence[str] | None
    ) -> list[ThemeInput]:
        self.asked.append((start, end, systems))
        return CURRENT if len(self.asked) == 1 else PREVIOUS


class ThreadNoting:
    """TF-IDF, noting which thread embeds."""

    name, threshold = "noting", TfidfEmbedder.threshold

    def __init__(self) -> None:
        self.threads: set[int] = set()

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.threads.add(threading.get_ident())
        return TfidfEmbedder().embed(texts)


async def test_the_section_reads_both_weeks_and_computes_off_the_event_loop() -> None:
    source, noting = RecordingSource(), ThreadNoting()
    week = IsoWeek(2026, 7)  # Mon 9 Feb – Sun 15 Feb 2026, London on GMT
    themes = await themes_for_week(
        source, week, ["support-assistant"], tz="Europe/London",
        now=datetime(2026, 2, 16, 9, tzinfo=UTC), embedder=noting,
    )  # fmt: skip

    assert [t.cases for t in themes] == [4, 3, 3]
    mondays = [datetime(2026, 2, day, tzinfo=UTC) for day in (2, 9, 16)]
    assert source.asked == [
        (mondays[1], mondays[2], ["support-assistant"]),
        (mondays[0], mondays[1], ["support-assistant"]),
    ]
    assert noting.threads and threading.get_ident() not in noting.threads


async def test_the_week_in_progress_is_read_so_far() -> None:
    source = RecordingSource()
    now = datetime(2026, 2, 11, 15, tzinfo=UTC)
    await themes_for_week(
        source, IsoWeek(2026, 7), None, tz="UTC", now=now, embedder=TfidfEmbedder()
    )
    assert source.asked[0] == (datetime(2026, 2, 9, tzinfo=UTC), now, None)


def test_hostile_texts_make_plain_short_labels(model: Embedder) -> None:
    texts = [
        "x" * 20_000 + " refund policy invented",
        "<!channel> refund policy invented <@U0ALICE> &amp; <https://evil.example|click>",
        "\x00\x1b[31m refund policy invented 🤖",
        "refund policy invented " + "é" * 5_000,
        "",
        "   ",
        "!!!???",
        None,
    ]
    hostile = [
        ThemeInput(report_id=i, case_id=i, system_id=S, category_id="other", comment=t, output=t)
        for i, t in enumerate(texts)
    ]
    [theme] = find_themes(hostile, hostile, model)

    assert theme.cases >= 2 and "refund policy" in theme.terms
    assert all(len(term) <= 32 for term in theme.terms)
    assert not set(theme.label) & set("<>&|@!*_`~\x00\x1b")
