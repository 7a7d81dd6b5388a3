"""The local backend: an index folder of versions (FAISS + BM25 segments, a SQLite store)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from corpus.document import Document
from embeddings.model import Embedder
from retrieval.backends.base import Finding, Version
from retrieval.backends.local.folder import current_version, load_version, read_manifest
from retrieval.backends.local.ingest import ingest
from retrieval.backends.local.store import STORE, ChunkStore
from retrieval.backends.local.version import LocalVersion
from retrieval.ingest.plan import IngestResult, log_to_stderr


class LocalBackend:
    """Versions in an index folder (see :mod:`retrieval.backends.local.folder`)."""

    name = "local"

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self.where = str(self.index_dir)

    def current_version(self) -> str | None:
        return current_version(self.index_dir)

    def load(self, model: dict | None = None, reuse: Version | None = None) -> LocalVersion:
        return load_version(
            self.index_dir, model, reuse if isinstance(reuse, LocalVersion) else None
        )

    def check(self) -> list[Finding]:
        from retrieval.backends.local.check import check_index

        return check_index(self.index_dir)

    def previous_corpus(self) -> list[str]:
        version = current_version(self.index_dir)
        if not version:
            return []
        try:
            return list(read_manifest(self.index_dir, version).corpus)
        except (OSError, ValueError, TypeError):
            return []

    def stored_documents(self, select: Callable[[str], bool]) -> list[Document]:
        """The live version's documents ``select`` accepts: its manifest and store rows."""
        for _attempt in range(3):  # the version may be pruned between CURRENT and its manifest
            version = current_version(self.index_dir)
            if version is None:
                return []
            try:
                manifest = read_manifest(self.index_dir, version)
            except FileNotFoundError:
                if current_version(self.index_dir) != version:
                    continue
                raise
            keys = [int(entry[1]) for doc_id, entry in manifest.documents.items() if select(doc_id)]
            store = ChunkStore(self.index_dir / STORE)
            return [doc for doc in map(store.document, keys) if doc is not None]
        return []

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
        return ingest(
            self.index_dir,
            documents,
            embedder,
            rebuild=rebuild,
            dry_run=dry_run,
            progress=progress,
            log=log or log_to_stderr,
            corpus=corpus,
        )
