"""The local model is loaded from inside its wheel with downloads off: nothing is fetched, and a
missing model file means the TF-IDF fallback, never a download."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from wordllama import WordLlama

from digests.themes import embed_wordllama
from digests.themes.embed_tfidf import TfidfEmbedder
from digests.themes.embed_wordllama import ModelUnavailable, load_wordllama, package_directory
from digests.themes.embedder import load_embedder
from digests.themes.engine import find_themes
from tests.themes_fixture import CURRENT, PREVIOUS


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every way out of the machine raises, and the hub client is told it is offline."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a network call was attempted: {args!r}")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(requests.Session, "request", refuse)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The arguments of every WordLlama.load call."""
    calls: list[dict[str, Any]] = []
    original = WordLlama.load.__func__  # type: ignore[attr-defined]

    def spy(cls: type[WordLlama], *args: Any, **kwargs: Any) -> Any:
        calls.append({"args": args, **kwargs})
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(WordLlama, "load", classmethod(spy))
    return calls


@pytest.mark.usefixtures("offline")
def test_the_model_loads_from_its_package_with_downloads_off(loads: list[dict[str, Any]]) -> None:
    model = load_wordllama()

    assert loads == [
        {
            "args": ("l2_supercat",),
            "cache_dir": package_directory(),
            "dim": 256,
            "trunc_dim": 128,
            "disable_download": True,
        }
    ]
    assert Path(package_directory(), "weights").is_dir()
    assert "refund" in find_themes(CURRENT, PREVIOUS, model)[0].label


@pytest.mark.usefixtures("offline")
def test_a_missing_model_file_is_never_fetched(
    loads: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gone = (tmp_path / "weights.safetensors", tmp_path / "tokenizer.json")
    monkeypatch.setattr(embed_wordllama, "model_files", lambda directory: gone)

    with pytest.raises(ModelUnavailable, match="missing"):
        load_wordllama()
    assert isinstance(load_embedder(), TfidfEmbedder)
    assert loads == []


def test_loading_the_model_leaves_the_logging_setup_alone() -> None:
    # wordllama configures the root logger when first imported: a fresh interpreter shows it.
    script = (
        "import logging\n"
        "from digests.themes.embed_wordllama import load_wordllama\n"
        "load_wordllama()\n"
        "root = logging.getLogger()\n"
        "print(len(root.handlers), root.level)\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert shown.stdout.split() == ["0", str(logging.WARNING)]
