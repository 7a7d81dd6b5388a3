"""The seam between the answer core and where chunks live.

``AnswerEngine`` talks to a :class:`Backend` (where versions are published) and to the
:class:`Version` it loaded from it (one consistent version, ready to search). Fusion,
marking, confidence and excerpts stay above this seam, so every backend gives the same
answers from the same candidates.

* ``local`` (default): the index folder — FAISS + bm25s + SQLite (retrieval.index).
* ``milvus``: a Milvus Lite file or a Milvus server/cluster by URI (retrieval.milvus).

Settings: ``QABOT_BACKEND`` (or ``--backend``), ``QABOT_MILVUS_URI``, ``QABOT_MILVUS_TOKEN``,
``QABOT_MILVUS_COLLECTION``, ``QABOT_MILVUS_KEYWORDS`` (see :class:`BackendSettings`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

import qabot_settings
from retrieval.errors import RetrievalError

if TYPE_CHECKING:
    from corpus.document import Document
    from embeddings.model import Embedder
    from retrieval.index import Manifest
    from retrieval.ingest import IngestResult
    from retrieval.store import ChunkRow

BACKENDS = ("local", "milvus")
MILVUS_FILE = "milvus.db"  # the default embedded Milvus Lite file inside the index folder


class Version(Protocol):
    """One published version, searched as a consistent whole."""

    manifest: Manifest  # model, chunker and search-key versions, documents and their hashes

    @property
    def version(self) -> str: ...

    @property
    def size(self) -> int:
        """Live chunks."""
        ...

    @property
    def total(self) -> int:
        """The number of chunks IDF is computed over (the local index counts deleted rows
        too, as Lucene does)."""
        ...

    def idf(self, token: str) -> float:
        """BM25 IDF of ``token`` over the whole version."""
        ...

    def dense_candidates(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(cosine scores, chunk ids) of the ``k`` nearest live chunks, best first."""
        ...

    def keyword_candidates(self, tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(BM25 scores, chunk ids) of the ``k`` best keyword matches (score > 0), best first."""
        ...

    def keyword_weights(self, tokens: Sequence[str], ids: Sequence[int]) -> dict[int, float]:
        """BM25 score for ``tokens`` of each chunk of ``ids`` that holds any of them, scored
        as :meth:`keyword_candidates` scores (only those chunks are read)."""
        ...

    def rows(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        """Location (doc_id, start, end) of the chunks ``ids`` that exist."""
        ...

    def document(self, doc_id: str) -> Document | None:
        """The document's clean text and citation, as this version has it."""
        ...

    def sources(self) -> list[tuple]:
        """(doc_id, title, date, source, url, characters) of every document, in corpus order."""
        ...

    def chunk_texts(self) -> Iterable[tuple[int, str, str]]:
        """(chunk id, doc_id, chunk text) of every live chunk, for evaluation baselines."""
        ...


class Backend(Protocol):
    """Where versions are built and published."""

    name: str
    where: str  # for messages: a folder, or a URI and collection

    def current_version(self) -> str | None:
        """The live version's name (cheap), or None if nothing was published."""
        ...

    def load(self, model: dict | None = None, reuse: Version | None = None) -> Version:
        """The live version; IndexNotFoundError / IndexMismatchError (with ``model``)."""
        ...

    def previous_corpus(self) -> list[str]:
        """The corpus paths the live version was ingested from (empty if unknown)."""
        ...

    def ingest(
        self,
        documents: Sequence[Document],
        embedder: Embedder,
        rebuild: bool = False,
        dry_run: bool = False,
        progress: bool = True,
        log: Callable[[str], None] | None = None,
        corpus: Sequence[str] = (),
    ) -> IngestResult:
        """Publish a new version built from ``documents``, doing work only for what changed."""
        ...


def _env(name: str, default: str = "") -> str:
    return qabot_settings.raw(name, default)


@dataclass(frozen=True)
class BackendSettings:
    """Which backend, and how to reach Milvus (read from the environment)."""

    backend: str = field(default_factory=lambda: _env("QABOT_BACKEND", "local").lower())
    milvus_uri: str = field(default_factory=lambda: _env("QABOT_MILVUS_URI"))
    milvus_token: str = field(default_factory=lambda: _env("QABOT_MILVUS_TOKEN"))
    collection: str = field(default_factory=lambda: _env("QABOT_MILVUS_COLLECTION", "qabot"))
    # "sparse": BM25 weights from our own tokens (default); "bm25": Milvus's BM25 over jieba
    keywords: str = field(default_factory=lambda: _env("QABOT_MILVUS_KEYWORDS", "sparse"))

    def uri_for(self, index_dir: Path) -> str:
        """The Milvus URI: ``QABOT_MILVUS_URI``, else a Milvus Lite file in the index folder."""
        return self.milvus_uri or str(Path(index_dir).expanduser().resolve() / MILVUS_FILE)


class LocalBackend:
    """The index folder (retrieval.index / retrieval.ingest), unchanged."""

    name = "local"

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self.where = str(self.index_dir)

    def current_version(self) -> str | None:
        from retrieval.index import current_version

        return current_version(self.index_dir)

    def load(self, model: dict | None = None, reuse: Version | None = None) -> Version:
        from retrieval.index import LoadedIndex, load_index

        return load_index(self.index_dir, model, reuse if isinstance(reuse, LoadedIndex) else None)

    def previous_corpus(self) -> list[str]:
        from retrieval.index import Manifest, current_version, version_dir

        version = current_version(self.index_dir)
        if not version:
            return []
        try:
            return list(Manifest.read(version_dir(self.index_dir, version)).corpus)
        except (OSError, ValueError, TypeError):
            return []

    def ingest(
        self, documents, embedder, rebuild=False, dry_run=False, progress=True, log=None, corpus=()
    ):
        from retrieval.ingest import ingest

        extra = {"log": log} if log is not None else {}
        return ingest(
            self.index_dir,
            documents,
            embedder,
            rebuild=rebuild,
            dry_run=dry_run,
            progress=progress,
            corpus=corpus,
            **extra,
        )


def open_backend(index_dir: Path, settings: BackendSettings | None = None) -> Backend:
    """The configured backend for ``index_dir`` (the folder also holds the embedding cache
    and the bot's own state, whichever backend serves the chunks)."""
    settings = settings or BackendSettings()
    if settings.backend == "local":
        return LocalBackend(index_dir)
    if settings.backend == "milvus":
        try:
            import pymilvus  # noqa: F401
        except ImportError:
            raise RetrievalError(
                "the Milvus backend needs the milvus extra: pip install -e '.[milvus]'"
            ) from None
        from retrieval.milvus.backend import MilvusBackend

        return MilvusBackend(Path(index_dir), settings)
    raise RetrievalError(
        f"unknown backend {settings.backend!r} (QABOT_BACKEND or --backend): "
        f"choose {' or '.join(BACKENDS)}"
    )
