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
from retrieval.backends.base import Finding, cache_finding
from retrieval.backends.milvus import client as meta
from retrieval.backends.milvus.ingest import ingest_milvus
from retrieval.backends.milvus.manifest import (
    MilvusManifest,
    check_rows,
    manifest_key,
    read_current,
    read_manifest,
    vocab_key,
)
from retrieval.backends.milvus.version import MilvusVersion
from retrieval.errors import IndexMismatchError, IndexNotFoundError, ManifestError
from retrieval.ingest.plan import IngestResult, ingest_lock, log_to_stderr

REFRESH_EVERY = 1.0  # seconds between two reads of the ``current`` row
LOAD_TRIES = 3  # a version replaced twice while it loads: load the live one instead


class MilvusBackend:
    """Versions in Milvus: a Milvus Lite file (``*.db``) or a server/cluster URI.

    Reading never creates anything: with no Milvus Lite file there is no index yet, and a
    file named by ``QABOT_MILVUS_URI`` in a folder that does not exist is an error (a typo
    would otherwise grow a new, empty index elsewhere). An ingest creates the file, and the
    index folder (``--index``) as the local backend does, but no other folder.
    """

    name = "milvus"

    def __init__(self, index_dir: Path, settings: BackendSettings) -> None:
        self.index_dir = index_dir  # the embedding cache and the bot's state stay local
        self.settings = settings
        self.uri = settings.uri_for(index_dir)
        self.lite = meta.lite_path(self.uri)  # None: a server
        self.prefix = settings.collection
        self.where = f"Milvus {self.uri} (collection {self.prefix})"
        self._client = None
        self._seen: tuple[float, str | None] = (0.0, None)

    def _check_folder(self) -> None:
        """An error if the Milvus Lite file's folder is missing and is not the index folder
        (which an ingest creates)."""
        folder = self.lite.parent if self.lite is not None else None
        if folder and not folder.is_dir() and folder != Path(self.index_dir).resolve():
            raise meta.missing_folder(self.lite)

    def _stored(self) -> bool:
        """Whether there may be an index to read: False for a Milvus Lite file that does not
        exist yet (see :meth:`_check_folder` for its folder)."""
        if self._client is not None or self.lite is None:
            return True
        self._check_folder()
        return self.lite.exists()

    @property
    def client(self) -> meta.Client:
        """The connection, for reading; IndexNotFoundError where no Milvus Lite file exists."""
        if self._client is None:
            if not self._stored():
                raise IndexNotFoundError(f"no index in {self.where} (run: python -m bot ingest)")
            self._client = meta.connect(self.uri, self.settings.milvus_token)
        return self._client

    def current_version(self) -> str | None:
        at, name = self._seen
        if time.monotonic() - at < REFRESH_EVERY:
            return name
        if not self._stored():
            return None
        pointer = self._pointer()
        name = pointer["version"] if pointer else None
        self._seen = (time.monotonic(), name)
        return name

    def _pointer(self) -> dict | None:
        """The ``current`` row; a one-line ManifestError if it is damaged."""
        try:
            return read_current(self.client, self.prefix)
        except ManifestError as exc:
            raise self._damaged(exc) from None

    def _damaged(self, exc: ManifestError) -> ManifestError:
        return ManifestError(
            f"the index in {self.where} is damaged: {exc}; rebuild it: {meta.REBUILD}"
        )

    def live_manifest(self) -> MilvusManifest | None:
        if not self._stored():
            return None
        pointer = self._pointer()
        try:
            return read_manifest(self.client, self.prefix, pointer) if pointer else None
        except ManifestError as exc:
            raise self._damaged(exc) from None

    def load(self, model: dict | None = None, reuse=None) -> MilvusVersion:
        for attempt in range(LOAD_TRIES):
            pointer = self._pointer()
            if pointer is None:
                raise IndexNotFoundError(f"no index in {self.where} (run: python -m bot ingest)")
            try:
                return self._load(pointer, model)
            except ManifestError as exc:
                again = self._pointer()
                if attempt + 1 < LOAD_TRIES and again and again["version"] != pointer["version"]:
                    continue  # replaced (and pruned) while it loaded: load the live one
                raise self._damaged(exc) from None
        raise AssertionError("unreachable")

    def _load(self, pointer: dict, model: dict | None) -> MilvusVersion:
        manifest = read_manifest(self.client, self.prefix, pointer)
        if model is not None:
            problem = manifest.mismatch(model, self.where)
            if problem:
                raise IndexMismatchError(problem)
        check_rows(self.client, manifest)
        vocab = meta.read_blob(
            self.client, self.prefix, vocab_key(manifest.version), manifest.vocab_pieces
        )
        if not isinstance(vocab, dict):
            raise ManifestError(f"the vocabulary of {manifest.version} is not a mapping")
        self._seen = (time.monotonic(), manifest.version)
        return MilvusVersion(self.client, manifest, vocab, self.prefix)

    def check(self) -> list[Finding]:
        """The live version as a reader loads it (its manifest's values, the rows its filter
        admits against the chunks it counts, its vocabulary), and the embedding cache."""
        repair = f"{meta.REBUILD}" + (" (it moves the damaged data aside)" if self.lite else "")
        try:
            version = self.current_version()
        except (ManifestError, meta.MilvusDamagedError) as exc:
            return [Finding("current", str(exc), repair=repair)]
        if version is None:
            return [Finding("current", "no index here", repair="build one: python -m bot ingest")]
        findings = [Finding("current", detail=f"names {version}")]
        try:
            loaded = self.load()
        except (ManifestError, meta.MilvusDamagedError) as exc:
            findings.append(Finding(f"version {version}", str(exc), repair=repair))
        else:
            detail = f"{len(loaded.manifest.documents):,} documents, {loaded.size:,} chunks"
            findings.append(Finding(f"version {version}", detail=detail + ", rows counted"))
        return [*findings, cache_finding(self.index_dir)]

    def previous_corpus(self) -> list[str]:
        """The folders of the live version's ingest; when they cannot be read (damaged
        data), an error that asks for them."""
        try:
            manifest = self.live_manifest()
        except ManifestError:
            corpus = self._damaged_manifest_corpus()
            if corpus is not None:
                return corpus
            why = f"the index manifest in {self.where} is damaged"
        except meta.MilvusDamagedError as exc:
            why = f"the Milvus Lite data {self.lite} cannot be read ({exc.reason})"
        else:
            return list(manifest.corpus) if manifest else []
        raise ManifestError(
            f"{why}, nor the folders it was built from: rebuild it from yours, "
            f"{meta.REBUILD} --corpus FOLDER"
        )

    def _damaged_manifest_corpus(self) -> list[str] | None:
        """The ``corpus`` of a live manifest that decodes but holds bad values, or None."""
        try:
            pointer = read_current(self.client, self.prefix)
            data = meta.read_blob(
                self.client, self.prefix, manifest_key(pointer["version"]), pointer["pieces"]
            )
        except (ManifestError, TypeError):
            return None
        corpus = data.get("corpus") if isinstance(data, dict) else None
        ok = isinstance(corpus, list) and all(isinstance(c, str) for c in corpus)
        return corpus if ok else None

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
        log = log or log_to_stderr
        self._check_folder()
        with ingest_lock(self.index_dir, self.where):
            client = self._writable(rebuild and not dry_run, log)
            return ingest_milvus(
                client,
                self.prefix,
                self.settings.keywords,
                self.index_dir,
                documents,
                embedder,
                rebuild=rebuild,
                dry_run=dry_run,
                progress=progress,
                log=log,
                corpus=corpus,
            )

    def _writable(self, rebuild: bool, log: Callable[[str], None]) -> meta.Client:
        """The connection for an ingest (it creates a Milvus Lite file). With ``rebuild``, a
        Milvus Lite folder the engine cannot read is moved aside and a new one begun."""
        try:
            client = self._client or meta.connect(self.uri, self.settings.milvus_token)
            if rebuild:
                self._probe(client)
        except meta.MilvusDamagedError as exc:
            if not rebuild or self.lite is None:
                raise
            log(f"full rebuild: {self._set_aside(exc.reason)}")
            client = meta.connect(self.uri, self.settings.milvus_token)
        self._client = client
        return client

    def _probe(self, client: meta.Client) -> None:
        """Read what an ingest reads (the pointer, the manifest, the live rows), so that an
        engine that cannot read its files says so before the rebuild starts."""
        try:
            pointer = read_current(client, self.prefix)
            if pointer is not None:
                check_rows(client, read_manifest(client, self.prefix, pointer))
        except ManifestError:
            pass  # our own rows, readable: the rebuild writes a new collection beside them

    def _set_aside(self, reason: str) -> str:
        """Move the unreadable Milvus Lite folder aside (as the local backend does with its
        store) and say so."""
        assert self.lite is not None
        meta.disconnect(self.uri, self.settings.milvus_token)  # its server holds the folder
        self._client = None
        aside = self.lite.with_name(f"{self.lite.name}.damaged-{int(time.time())}")
        self.lite.rename(aside)
        return f"the Milvus Lite data could not be read ({reason}); it was moved to {aside}"

    def stored_documents(self, select: Callable[[str], bool]) -> list[Document]:
        """The live version's documents ``select`` accepts, rebuilt from their chunk rows."""
        manifest = self.live_manifest()
        wanted = [doc_id for doc_id in manifest.documents if select(doc_id)] if manifest else []
        if not wanted:
            return []
        version = MilvusVersion(self.client, manifest, {})  # no vocabulary: documents only
        return [doc for doc in map(version.document, wanted) if doc is not None]
