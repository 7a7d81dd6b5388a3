"""The embedding cache: vectors keyed by model and chunk hash, committed batch by batch
(retrieval/ingest/embedding_cache.py)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.ingest.embedding_cache import CACHE, EmbeddingCache


def test_embedding_cache_keys_vectors_by_model_and_commits_each_batch(tmp_path):
    with EmbeddingCache(tmp_path / CACHE) as cache:
        cache.put_vectors("model-a", ["h1", "h2"], np.eye(2, 4, dtype=np.float32))
        assert cache.missing_vectors("model-a", ["h1", "h2", "h3", "h1"]) == ["h3"]
        assert cache.missing_vectors("model-b", ["h1"]) == ["h1"]  # another model sees nothing
        np.testing.assert_array_equal(cache.vectors("model-a", ["h2", "h1"], 4)[0], [0, 1, 0, 0])
        with pytest.raises(KeyError):
            cache.vectors("model-a", ["h3"], 4)
    with EmbeddingCache(tmp_path / CACHE) as reopened:  # committed, not just buffered
        assert reopened.missing_vectors("model-a", ["h1", "h2"]) == []
