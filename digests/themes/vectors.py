"""Text vectors as the themes engine passes them around: float32 rows of unit length."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]


def unit_rows(vectors: Vectors) -> Vectors:
    """Rows scaled to unit length in place; rows of zeros stay zeros."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    return vectors
