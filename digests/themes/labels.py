"""Each theme's most distinctive terms, by class-based TF-IDF over the week's groups.

A term scores by how much of its group's words it makes up, times how rare it is across all the
week's groups: log(1 + A / f), with A the average number of term occurrences per group and f
the term's occurrences in every group. A pair of words is preferred to one of its words.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

TERMS = 5
LABEL_TERMS = 3


def distinctive_terms(
    groups: Sequence[Counter[str]], spread: Sequence[Counter[str]], top: int = TERMS
) -> list[list[str]]:
    """For each group (term → weighted occurrences), its `top` most distinctive terms; `spread`
    (term → cases using it, per group) keeps to terms of more than one case where there are any.
    """
    overall: Counter[str] = Counter()
    for counts in groups:
        overall.update(counts)
    if not overall:
        return [[] for _ in groups]
    average = sum(overall.values()) / len(groups)
    found = []
    for counts, cases in zip(groups, spread, strict=True):
        size = sum(counts.values()) or 1
        scored = sorted(
            counts,
            key=lambda t: (-(counts[t] / size) * math.log(1 + average / overall[t]), t),
        )
        recurring = [t for t in scored if cases[t] >= 2]
        found.append(_without_overlap(recurring or scored, top))
    return found


def _without_overlap(ranked: list[str], top: int) -> list[str]:
    """The best terms, where a pair of words stands for the single words it contains."""
    chosen: list[str] = []
    for term in ranked:
        parts = term.split(" ")
        if len(parts) == 1:
            if any(term in c.split(" ") for c in chosen):
                continue
            chosen.append(term)
        else:
            inside = [i for i, c in enumerate(chosen) if c in parts]
            if inside:  # the pair takes the place of the first single word it contains
                chosen[inside[0]] = term
                chosen = [c for i, c in enumerate(chosen) if i == inside[0] or c not in parts]
            elif not all(any(p in c.split(" ") for c in chosen) for p in parts):
                chosen.append(term)
        if len(chosen) >= top:
            break
    return chosen[:top]


def label(terms: Sequence[str]) -> str:
    return ", ".join(terms[:LABEL_TERMS]) or "(no words in common)"
