"""wordllama's token vectors, loaded from the model files inside its wheel, never downloaded.

wordllama 0.4 looks for its tokenizer under `<package>/tokenizer/` while the wheel ships it in
`<package>/tokenizers/`; passing the package directory as `cache_dir` makes its cache lookup find
it there. Both files are checked before loading, because a missing tokenizer would otherwise
be fetched from a hub, and `disable_download` stops the weights being fetched.

A text's vector is the mean of its tokens' vectors (wordllama's own pooling). Each distinct word
of a batch is tokenized once: a week repeats the same few thousand words, and the tokenizer's
memory grows with every text it is given.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import re
from collections.abc import Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from digests.themes.vectors import Vectors, unit_rows

CONFIG = "l2_supercat"
DIMENSIONS = 256
KEPT_DIMENSIONS = 128
"""The model is trained Matryoshka-style: its first 128 of 256 dimensions are an embedding of
their own, good enough to tell complaints apart, at half the memory of every vector a week holds."""
THRESHOLD = 0.55
_PIECE = re.compile(r"[\w'’]+")
_CHUNK = 512  # texts summed at a time: bounds the gathered token vectors to a few MB
_WORD_BATCH = 1024


class ModelUnavailable(Exception):
    """wordllama or its bundled model files are not installed."""


def package_directory() -> Path:
    spec = importlib.util.find_spec("wordllama")
    if spec is None or spec.origin is None:
        raise ModelUnavailable("wordllama is not installed (pip install 'loopkeeper[themes]')")
    return Path(spec.origin).parent


def model_files(directory: Path) -> tuple[Path, Path]:
    """The weights and the tokenizer as the wheel lays them out."""
    weights = directory / "weights" / f"{CONFIG}_{DIMENSIONS}.safetensors"
    tokenizer = directory / "tokenizers" / f"{CONFIG}_tokenizer_config.json"
    return weights, tokenizer


@contextlib.contextmanager
def _root_logging_kept() -> Iterator[None]:
    """wordllama calls logging.basicConfig() when imported: undo that, the bot owns logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


def load_wordllama() -> WordLlamaEmbedder:
    """The model from the package directory with downloads off; ModelUnavailable if absent."""
    directory = package_directory()
    missing = [str(path) for path in model_files(directory) if not path.is_file()]
    if missing:
        raise ModelUnavailable(f"wordllama's model files are missing: {', '.join(missing)}")
    with _root_logging_kept():
        from wordllama import WordLlama

        model = WordLlama.load(
            CONFIG,
            cache_dir=directory,
            dim=DIMENSIONS,
            trunc_dim=KEPT_DIMENSIONS,
            disable_download=True,
        )
    return WordLlamaEmbedder(model.embedding, model.tokenizer)


class WordLlamaEmbedder:
    name = "wordllama"
    threshold = THRESHOLD

    def __init__(self, table: Any, tokenizer: Any) -> None:
        # The weights ship as float16: kept so (half the memory, nothing lost), summed in float32.
        self._table = np.asarray(table, dtype=np.float16)
        self._tokenizer = tokenizer
        self._tokenizer.no_padding()

    def embed(self, texts: Sequence[str]) -> Vectors:
        # Two passes over the texts, so no list of every text's word ids is ever held.
        vocabulary: dict[str, int] = {}
        for text in texts:
            for word in _PIECE.findall(text.lower()):
                vocabulary.setdefault(word, len(vocabulary))
        words = self._word_sums(list(vocabulary))
        out = np.zeros((len(texts), self._table.shape[1]), dtype=np.float32)
        for start in range(0, len(texts), _CHUNK):
            chunk = [
                [vocabulary[w] for w in _PIECE.findall(t.lower())]
                for t in texts[start : start + _CHUNK]
            ]
            rows = [i for i, ids in enumerate(chunk) if ids]
            if not rows:
                continue
            flat = np.fromiter(chain.from_iterable(chunk), dtype=np.int64)
            lengths = np.array([len(chunk[i]) for i in rows])
            offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
            out[start + np.array(rows)] = np.add.reduceat(words[flat], offsets, axis=0)
        # The mean and the sum point the same way: unit length is all the clustering needs.
        return unit_rows(out)

    def _word_sums(self, words: list[str]) -> Vectors:
        """Per word, the sum of its tokens' vectors."""
        sums = np.zeros((len(words), self._table.shape[1]), dtype=np.float32)
        for start in range(0, len(words), _WORD_BATCH):
            batch = words[start : start + _WORD_BATCH]
            # One word at a time: encode_batch's worker threads keep tens of MB once done.
            ids = [self._tokenizer.encode(w, add_special_tokens=False).ids for w in batch]
            rows = [i for i, token_ids in enumerate(ids) if token_ids]
            if not rows:
                continue
            flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64)
            np.clip(flat, 0, self._table.shape[0] - 1, out=flat)
            lengths = np.array([len(ids[i]) for i in rows])
            offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
            sums[start + np.array(rows)] = np.add.reduceat(
                self._table[flat], offsets, axis=0, dtype=np.float32
            )
        return sums
