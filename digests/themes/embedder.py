"""Turning texts into vectors: the wordllama model when it is installed, TF-IDF otherwise."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from digests.themes.vectors import Vectors

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str
    threshold: float
    """The cosine distance under which texts belong to one theme, for this embedder's space."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, of unit length; a row of zeros for a text with no words."""
        ...


def load_embedder() -> Embedder:
    """wordllama's model from its own package directory, or the TF-IDF fallback without it."""
    from digests.themes.embed_tfidf import TfidfEmbedder
    from digests.themes.embed_wordllama import ModelUnavailable, load_wordllama

    try:
        return load_wordllama()
    except ModelUnavailable as reason:
        log.info("Themes use TF-IDF: %s", reason)
        return TfidfEmbedder()
