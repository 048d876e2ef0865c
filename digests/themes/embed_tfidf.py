"""The fallback without the model: TF-IDF over the texts' own terms, in numpy alone.

Terms used by one text only cannot join two texts and are left out. The TF-IDF rows are
projected onto a fixed random basis (Johnson–Lindenstrauss), so every embedder hands the engine
the same small dense rows whatever the week's vocabulary.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from digests.themes.text import terms
from digests.themes.vectors import Vectors, unit_rows

DIMENSIONS = 256
MAX_TERMS = 8192
THRESHOLD = 0.75
SEED = 20260216
_CHUNK = 512


class TfidfEmbedder:
    name = "tf-idf"
    threshold = THRESHOLD

    def __init__(self, dimensions: int = DIMENSIONS, seed: int = SEED) -> None:
        self.dimensions = dimensions
        self.seed = seed

    def embed(self, texts: Sequence[str]) -> Vectors:
        documents = [Counter(terms(text)) for text in texts]
        seen_in: Counter[str] = Counter()
        for document in documents:
            seen_in.update(document.keys())
        shared = sorted((t for t, n in seen_in.items() if n >= 2), key=lambda t: (-seen_in[t], t))
        index = {term: i for i, term in enumerate(shared[:MAX_TERMS])}
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not index:
            return out
        total = len(texts)
        idf = np.array(
            [math.log((1 + total) / (1 + seen_in[t])) + 1 for t in index], dtype=np.float32
        )
        basis = np.random.RandomState(self.seed).standard_normal((len(index), self.dimensions))
        basis = basis.astype(np.float32)
        for start in range(0, total, _CHUNK):
            chunk = documents[start : start + _CHUNK]
            weights = np.zeros((len(chunk), len(index)), dtype=np.float32)
            for row, document in enumerate(chunk):
                for term, count in document.items():
                    column = index.get(term)
                    if column is not None:
                        weights[row, column] = count
            weights *= idf
            out[start : start + len(chunk)] = unit_rows(weights) @ basis
        return unit_rows(out)
