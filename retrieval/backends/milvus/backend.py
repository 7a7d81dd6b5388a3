"""The Milvus backend: versions published in Milvus, read by any number of processes.

What a reader of version N sees (see docs/scale-out.md for why):

* the manifest of N (meta ``manifest:<name>``) and its vocabulary (token -> id, df);
* in the chunks collection it names, the rows with ``born <= N`` whose ``doc_key`` is not
  in the manifest's ``dead`` list — rows of an ingest still under way (or killed) have
  ``born > N``; rows of changed or removed documents are listed as dead until the next
  ingest deletes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from corpus.document import Document
from embeddings.model import Embedder
from qabot_settings import BackendSettings
from retrieval.backends.milvus import client as meta
from retrieval.backends.milvus.ingest import ingest_milvus
from retrieval.backends.milvus.manifest import (
    MilvusManifest,
    read_current,
    read_manifest,
    vocab_key,
)
from retrieval.backends.milvus.version import MilvusVersion
from retrieval.errors import IndexMismatchError, IndexNotFoundError
from retrieval.ingest.plan import IngestResult

REFRESH_EVERY = 1.0  # seconds between two reads of the ``current`` row


class MilvusBackend:
    """Versions in Milvus: a Milvus Lite file (``*.db``) or a server/cluster URI."""

    name = "milvus"

    def __init__(self, index_dir: Path, settings: BackendSettings) -> None:
        self.index_dir = index_dir  # the embedding cache and the bot's state stay local
        self.settings = settings
        self.uri = settings.uri_for(index_dir)
        self.prefix = settings.collection
        self.where = f"Milvus {self.uri} (collection {self.prefix})"
        self._client = None
        self._seen: tuple[float, str | None] = (0.0, None)

    @property
    def client(self):
        if self._client is None:
            self._client = meta.connect(self.uri, self.settings.milvus_token)
        return self._client

    def current_version(self) -> str | None:
        at, name = self._seen
        if time.monotonic() - at < REFRESH_EVERY:
            return name
        pointer = read_current(self.client, self.prefix)
        name = pointer["version"] if pointer else None
        self._seen = (time.monotonic(), name)
        return name

    def live_manifest(self) -> MilvusManifest | None:
        pointer = read_current(self.client, self.prefix)
        return read_manifest(self.client, self.prefix, pointer) if pointer else None

    def load(self, model: dict | None = None, reuse=None) -> MilvusVersion:
        pointer = read_current(self.client, self.prefix)
        if pointer is None:
            raise IndexNotFoundError(f"no index in {self.where} (run: python -m bot ingest)")
        manifest = read_manifest(self.client, self.prefix, pointer)
        if model is not None:
            problem = manifest.mismatch(model, self.where)
            if problem:
                raise IndexMismatchError(problem)
        vocab = meta.read_blob(
            self.client, self.prefix, vocab_key(manifest.version), manifest.vocab_pieces
        )
        self._seen = (time.monotonic(), manifest.version)
        return MilvusVersion(self.client, manifest, vocab)

    def previous_corpus(self) -> list[str]:
        manifest = self.live_manifest()
        return list(manifest.corpus) if manifest else []

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
        return ingest_milvus(
            self.client,
            self.prefix,
            self.settings.keywords,
            self.index_dir,
            self.where,
            documents,
            embedder,
            rebuild=rebuild,
            dry_run=dry_run,
            progress=progress,
            log=log,
            corpus=corpus,
        )

    def stored_documents(self, select: Callable[[str], bool]) -> list[Document]:
        """The live version's documents ``select`` accepts, rebuilt from their chunk rows."""
        manifest = self.live_manifest()
        wanted = [doc_id for doc_id in manifest.documents if select(doc_id)] if manifest else []
        if not wanted:
            return []
        version = MilvusVersion(self.client, manifest, {})  # no vocabulary: documents only
        return [doc for doc in map(version.document, wanted) if doc is not None]
