"""From a week's reports to its recurring themes (and how each moved since last week).

Deterministic: the same reports give the same themes, whatever order they come in. Identical
texts are embedded and clustered once, weighted by how many reports carry them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digests.model import Change, Theme
from digests.themes.cluster import UNGROUPED, centroids, group, nearest
from digests.themes.embedder import Embedder
from digests.themes.labels import distinctive_terms, label
from digests.themes.model import ThemeInput
from digests.themes.text import clean, terms
from digests.themes.vectors import Vectors, unit_rows

PART_WEIGHTS = (1.0, 0.6, 0.4)
"""Comment, "what it should have said", output excerpt: what people say about the output
matters most; the output itself is shared by every report on its case."""
MIN_CASES = 2
"""A theme recurs: one case alone, however many reports it has, is not a theme."""
LIMIT = 10
CASE_NUMBERS = 3
_CHUNK = 2048

Key = tuple[str, str, str]


@dataclass(frozen=True)
class _Texts:
    keys: list[Key]
    vectors: Vectors


def _key(item: ThemeInput) -> Key:
    return (clean(item.comment), clean(item.expected), clean(item.output))


def _embed(keys: list[Key], embedder: Embedder) -> Vectors:
    """One unit vector per distinct (comment, expected, output): its parts' weighted sum."""
    parts = sorted({part for key in keys for part in key if part})
    part_vectors = embedder.embed(parts)
    row = {part: i for i, part in enumerate(parts)}
    vectors = np.zeros((len(keys), part_vectors.shape[1] if len(parts) else 1), dtype=np.float32)
    for index, weight in enumerate(PART_WEIGHTS):
        present = [(i, row[key[index]]) for i, key in enumerate(keys) if key[index]]
        for start in range(0, len(present), _CHUNK):  # small temporaries, not a week's worth
            rows, sources = zip(*present[start : start + _CHUNK], strict=True)
            vectors[list(rows)] += weight * part_vectors[list(sources)]
    return unit_rows(vectors)


def find_themes(
    current: Sequence[ThemeInput],
    previous: Sequence[ThemeInput],
    embedder: Embedder,
    *,
    limit: int = LIMIT,
    sample_size: int | None = None,
) -> list[Theme]:
    """The week's themes, most cases first; `previous` is last week's reports, for `change`."""
    now_keys = [_key(item) for item in current]
    then_keys = [_key(item) for item in previous]
    keys = sorted({*now_keys, *then_keys} - {("", "", "")})
    if not keys:
        return []
    texts = _Texts(keys, _embed(keys, embedder))
    index = {key: i for i, key in enumerate(keys)}
    has_words = np.linalg.norm(texts.vectors, axis=1) > 0
    weights = np.zeros(len(keys), dtype=np.float64)
    for key in now_keys:
        if key in index:
            weights[index[key]] += 1
    mine = np.flatnonzero((weights > 0) & has_words)
    if len(mine) == 0:
        return []
    extra = {} if sample_size is None else {"sample_size": sample_size}
    local = group(texts.vectors[mine], weights[mine], embedder.threshold, **extra)
    labels = np.full(len(keys), UNGROUPED, dtype=np.int64)
    labels[mine] = local
    groups = int(local.max()) + 1
    centres = centroids(texts.vectors[mine], weights[mine], local, groups)
    before = _previous_counts(then_keys, index, texts, has_words, centres, embedder.threshold)
    return _themes(current, now_keys, index, labels, groups, before, limit)


def _previous_counts(
    previous: list[Key],
    index: dict[Key, int],
    texts: _Texts,
    has_words: np.ndarray,
    centres: Vectors,
    threshold: float,
) -> Counter[int]:
    """Last week's reports per theme: each joins the theme whose centre is nearest, if close."""
    rows = [index[k] for k in previous if k in index and has_words[index[k]]]
    if not rows:
        return Counter()
    distinct = sorted(set(rows))
    joined = dict(zip(distinct, nearest(texts.vectors[distinct], centres, threshold), strict=True))
    return Counter(int(joined[r]) for r in rows if joined[r] != UNGROUPED)


def _themes(
    current: Sequence[ThemeInput],
    current_keys: list[Key],
    index: dict[Key, int],
    labels: np.ndarray,
    groups: int,
    before: Counter[int],
    limit: int,
) -> list[Theme]:
    members: dict[int, list[ThemeInput]] = defaultdict(list)
    said: dict[tuple[int, int], set[str]] = defaultdict(set)
    shown: dict[tuple[int, int], set[str]] = defaultdict(set)
    for item, key in zip(current, current_keys, strict=True):
        found = int(labels[index[key]]) if key in index else UNGROUPED
        members[found].append(item)
        said[(found, item.case_id)].update(terms(key[0]), terms(key[1]))
        shown[(found, item.case_id)].update(terms(key[2]))
    # One count per case and term, so a pile-on on one case does not name the theme; the
    # output's words count half: what people said about it says more than its wording.
    counted: list[Counter[str]] = [Counter() for _ in range(groups + 1)]
    spread: list[Counter[str]] = [Counter() for _ in range(groups + 1)]
    for (found, case_id), words in said.items():
        counted[found].update(dict.fromkeys(words, 2))  # UNGROUPED (-1) is the last class
        spread[found].update(words | shown[(found, case_id)])
    for (found, _), words in shown.items():
        counted[found].update(dict.fromkeys(words, 1))
    named = distinctive_terms(counted, spread)
    themes = [
        _theme(members[g], named[g], before[g])
        for g in range(groups)
        if len({m.case_id for m in members[g]}) >= MIN_CASES
    ]
    themes.sort(key=lambda t: (-t.cases, -t.reports, t.label, t.case_numbers))
    return themes[:limit]


def _ranked(counts: Counter[str]) -> list[str]:
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _theme(items: list[ThemeInput], terms_found: list[str], previous: int) -> Theme:
    by_case = Counter(item.case_id for item in items)
    return Theme(
        label=label(terms_found),
        terms=terms_found,
        reports=len(items),
        cases=len(by_case),
        systems=_ranked(Counter(item.system_id for item in items)),
        categories=_ranked(Counter(item.category_id for item in items)),
        change=Change(current=len(items), previous=previous),
        case_numbers=[c for c, _ in sorted(by_case.items(), key=lambda kv: (-kv[1], kv[0]))][
            :CASE_NUMBERS
        ],
    )
