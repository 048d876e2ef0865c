"""Grouping unit vectors by agglomerative clustering with a distance threshold, at any size.

Average linkage over cosine distances, cut at the threshold. Its memory is quadratic, so at most
`sample_size` texts are agglomerated at once: a sample drawn by weight (seeded, so the same week
gives the same themes), then every other text joins the nearest group whose centroid lies within
the threshold; texts that join none are sampled and agglomerated in the next round.

Average linkage is scipy's (scikit-learn's AgglomerativeClustering without a connectivity graph
calls the very same `scipy.cluster.hierarchy.linkage`, and costs 100 MB more to import). Without
scipy, a greedy pass (each text joins the first group within the threshold) stands in.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from digests.themes.vectors import Vectors, unit_rows

SAMPLE_SIZE = 2000
ROUNDS = 3
SEED = 20260216
_ASSIGN_CHUNK = 4096
UNGROUPED = -1

Labels = NDArray[np.int64]


def agglomerate(vectors: Vectors, threshold: float) -> Labels:
    """Group labels 0..k-1, numbered in order of first appearance."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(vectors) == 1:
        return np.zeros(1, dtype=np.int64)
    try:
        from scipy.cluster.hierarchy import fcluster, linkage
    except ImportError:
        return _greedy(vectors, threshold)
    tree = linkage(vectors.astype(np.float64), method="average", metric="cosine")
    return _first_seen_order(fcluster(tree, t=threshold, criterion="distance"))


def _greedy(vectors: Vectors, threshold: float) -> Labels:
    labels = np.empty(len(vectors), dtype=np.int64)
    sums = np.zeros((0, vectors.shape[1]), dtype=np.float32)
    for i, vector in enumerate(vectors):
        if len(sums):
            similarity = unit_rows(sums.copy()) @ vector
            best = int(np.argmax(similarity))
            if 1.0 - similarity[best] <= threshold:
                labels[i] = best
                sums[best] += vector
                continue
        labels[i] = len(sums)
        sums = np.vstack([sums, vector[np.newaxis, :]])
    return labels


def _first_seen_order(raw: NDArray[np.int32]) -> Labels:
    _, first = np.unique(raw, return_index=True)
    order = np.argsort(first, kind="stable")
    renumber = np.empty(len(order), dtype=np.int64)
    renumber[order] = np.arange(len(order))
    _, inverse = np.unique(raw, return_inverse=True)
    return renumber[inverse]


def centroids(vectors: Vectors, weights: NDArray[np.float64], labels: Labels, k: int) -> Vectors:
    """Each group's weighted mean direction (unit rows)."""
    sums = np.zeros((k, vectors.shape[1]), dtype=np.float32)
    grouped = labels >= 0
    np.add.at(sums, labels[grouped], vectors[grouped] * weights[grouped, np.newaxis])
    return unit_rows(sums)


def nearest(vectors: Vectors, centres: Vectors, threshold: float) -> Labels:
    """Each row's nearest centre within `threshold` (cosine distance), else UNGROUPED."""
    found = np.full(len(vectors), UNGROUPED, dtype=np.int64)
    if len(centres) == 0:
        return found
    for start in range(0, len(vectors), _ASSIGN_CHUNK):
        similarity = vectors[start : start + _ASSIGN_CHUNK] @ centres.T
        best = np.argmax(similarity, axis=1)
        close = 1.0 - similarity[np.arange(len(best)), best] <= threshold
        found[start : start + len(best)] = np.where(close, best, UNGROUPED)
    return found


def group(
    vectors: Vectors,
    weights: NDArray[np.float64],
    threshold: float,
    *,
    sample_size: int = SAMPLE_SIZE,
    seed: int = SEED,
) -> Labels:
    """Group labels for every row (UNGROUPED for rows no round could place)."""
    labels = np.full(len(vectors), UNGROUPED, dtype=np.int64)
    remaining = np.arange(len(vectors))
    groups = 0
    for round_number in range(ROUNDS):
        if len(remaining) == 0:
            break
        if len(remaining) <= sample_size:
            picked = remaining
        else:
            chance = weights[remaining] / weights[remaining].sum()
            sampler = np.random.RandomState(seed + round_number)
            picked = np.sort(sampler.choice(remaining, size=sample_size, replace=False, p=chance))
        local = agglomerate(vectors[picked], threshold)
        labels[picked] = local + groups
        found = int(local.max()) + 1
        others = np.setdiff1d(remaining, picked, assume_unique=True)
        if len(others):
            centres = centroids(vectors[picked], weights[picked], local, found)
            joined = nearest(vectors[others], centres, threshold)
            placed = joined != UNGROUPED
            labels[others[placed]] = joined[placed] + groups
            others = others[~placed]
        groups += found
        remaining = others
    return labels
