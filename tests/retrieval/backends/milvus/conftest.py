"""Fixtures of the Milvus tests: a fresh collection, embedded or over the network."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(params=["lite", "server"])
def milvus_env(request, tmp_path, monkeypatch):
    """QABOT_* settings for a fresh Milvus collection, embedded or over the network."""
    if request.param == "lite":
        uri = str(tmp_path / "milvus.db")
    else:
        uri = request.getfixturevalue("milvus_server")
    env = {
        "QABOT_BACKEND": "milvus",
        "QABOT_MILVUS_URI": uri,
        "QABOT_MILVUS_COLLECTION": f"t{uuid.uuid4().hex[:10]}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
