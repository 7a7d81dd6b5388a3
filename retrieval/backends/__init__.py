"""Where chunks live: the one place that names every backend.

* ``local`` (default): the index folder — FAISS + bm25s + SQLite (``backends/local/``).
* ``milvus``: a Milvus Lite file or a Milvus server/cluster by URI (``backends/milvus/``;
  needs the ``milvus`` extra).

The seam both implement, and the types they share, are in :mod:`retrieval.backends.base`.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from qabot_settings import BACKENDS, BackendSettings
from retrieval.backends.base import Backend, Candidates, ChunkRow, Manifest, Version
from retrieval.backends.local import LocalBackend
from retrieval.backends.milvus import MilvusBackend
from retrieval.errors import RetrievalError

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendSettings",
    "Candidates",
    "ChunkRow",
    "Manifest",
    "Version",
    "open_backend",
]


def open_backend(index_dir: Path, settings: BackendSettings | None = None) -> Backend:
    """The configured backend for ``index_dir`` (the folder also holds the embedding cache
    and the bot's own state, whichever backend serves the chunks)."""
    settings = settings or BackendSettings.from_env()
    if settings.backend == "local":
        return LocalBackend(index_dir)
    if settings.backend == "milvus":
        if find_spec("pymilvus") is None:
            raise RetrievalError(
                "the Milvus backend needs the milvus extra: pip install -e '.[milvus]'"
            )
        return MilvusBackend(Path(index_dir), settings)
    raise RetrievalError(
        f"unknown backend {settings.backend!r} (QABOT_BACKEND or --backend): "
        f"choose {' or '.join(BACKENDS)}"
    )
