"""The seam between the answer core and where chunks live: what every backend provides.

``AnswerEngine`` talks to a :class:`Backend` (where versions are published) and to the
:class:`Version` it loaded from it (one consistent version, ready to search). Fusion,
marking, confidence and excerpts stay above this seam, so every backend gives the same
answers from the same candidates.

This module imports no backend. Each backend lives in its own folder beside the others
(``backends/local/``, ``backends/milvus/``) and takes from here the types they share: the
:class:`Manifest` of a version, the :class:`ChunkRow` of a chunk and the
:class:`Candidates` a search returns. ``backends/__init__.py`` is the one place that names
every backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np

from corpus.chunking import CHUNKER_VERSION
from corpus.document import Document
from embeddings.model import Embedder, ModelIdentity
from retrieval.ingest.embedding_cache import CACHE, cache_problem
from retrieval.ingest.plan import IngestResult
from retrieval.tokens import DEFAULT_TOKENIZER, SEARCH_KEY_VERSION

if TYPE_CHECKING:
    from retrieval.filters import DocMeta, Filters

FORMAT = 2  # the layout of a version; another one must be rebuilt


class Candidates(NamedTuple):
    """A search's best chunks: ``scores[i]`` is the score of chunk ``ids[i]``, best first."""

    scores: np.ndarray  # float32
    ids: np.ndarray  # int64

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros(0, np.float32), np.zeros(0, np.int64))


@dataclass(frozen=True)
class ChunkRow:
    """Where a chunk is: its document, its span of the document's clean text, the heading
    path and article where it begins, and its document's number and issuer."""

    id: int
    doc_key: int
    doc_id: str
    index: int
    start: int
    end: int
    section: str | None = None
    article: str | None = None
    doc_number: str | None = None
    issuer: str | None = None


def model_info(identity: ModelIdentity) -> dict:
    """The model as a manifest records it (name, fingerprint, dimension)."""
    return {
        "name": identity.name,
        "fingerprint": identity.fingerprint,
        "dimension": identity.dimension,
    }


def new_version_name() -> str:
    """A version name that sorts by creation time (one clock reading: read twice, a second
    could tick over between the two and a newer name sort before an older one)."""
    now = time.time_ns()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 10**9)) + f"-{now % 10**9:09d}"


@dataclass(frozen=True)
class Manifest:
    """What a version was built from; decides whether the next ingest can reuse it.

    Each backend extends it with where its version's data lives.
    """

    version: str
    created: str
    model: dict  # name, fingerprint, dimension
    chunker_version: str
    search_key_version: str
    tokenizer: str
    # doc_id -> [content hash, doc_key], in corpus order
    documents: dict[str, list] = field(default_factory=dict)
    chunks: int = 0  # live chunks
    corpus: list[str] = field(default_factory=list)  # the paths it was ingested from
    format: int = FORMAT
    # issue 26 (retrieval/filters.py): doc_id -> DocMeta.to_list(); version groups, oldest
    # first; the layout of document_meta (0: none, the next ingest publishes it)
    document_meta: dict[str, list] = field(default_factory=dict)
    versions: list[list[str]] = field(default_factory=list)
    meta_version: int = 0

    @staticmethod
    def describe(
        version: str,
        identity: ModelIdentity,
        documents: dict[str, list],
        chunks: int,
        corpus: Sequence[str],
        documents_of: Sequence[Document] = (),
    ) -> dict:
        """The fields every backend's new manifest starts from: this code's model, chunker,
        search-key and tokenizer versions, and the version's documents (with
        ``documents_of``, the whole corpus: their metadata and version groups)."""
        from retrieval.filters import META_VERSION, catalogue

        metas, groups = catalogue(documents_of)
        return {
            "document_meta": metas,
            "versions": groups,
            "meta_version": META_VERSION,
            "version": version,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "model": model_info(identity),
            "chunker_version": CHUNKER_VERSION,
            "search_key_version": SEARCH_KEY_VERSION,
            "tokenizer": DEFAULT_TOKENIZER,
            "documents": documents,
            "chunks": int(chunks),
            "corpus": list(corpus),
        }

    @classmethod
    def from_json(cls, data: dict):
        """The manifest from its JSON object (unknown keys are ignored)."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def to_json(self) -> dict:
        return asdict(self)

    def content_hashes(self) -> dict[str, str]:
        return {doc_id: entry[0] for doc_id, entry in self.documents.items()}

    def doc_keys(self) -> set[int]:
        return {int(entry[1]) for entry in self.documents.values()}

    def mismatch(self, model: dict, where: object) -> str | None:
        """Why a reader with ``model`` must refuse this version (one line), or None."""
        if self.format != FORMAT:
            return (
                f"the index in {where} has an older format ({self.format}, now {FORMAT});"
                " run: python -m bot ingest --rebuild"
            )
        if self.model.get("fingerprint") != model["fingerprint"]:
            return (
                f"the index in {where} was built with {self.model.get('name')}, "
                f"not the configured {model['name']}; run: python -m bot ingest --rebuild"
            )
        return None

    def incompatibility(self, model: dict, tokenizer: str) -> str | None:
        """Why vectors/tokens of this version cannot be reused, or None."""
        if self.format != FORMAT:
            return f"index format changed ({self.format} → {FORMAT})"
        if self.model.get("fingerprint") != model["fingerprint"]:
            return f"embedding model changed ({self.model.get('name')} → {model['name']})"
        if self.chunker_version != CHUNKER_VERSION:
            return f"chunker changed ({self.chunker_version} → {CHUNKER_VERSION})"
        if self.search_key_version != SEARCH_KEY_VERSION or self.tokenizer != tokenizer:
            return "search-key normalisation or tokenizer changed"
        return None


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
        """The number of chunks IDF is computed over (the local backend counts deleted rows
        too, as Lucene does)."""
        ...

    def idf(self, token: str) -> float:
        """BM25 IDF of ``token`` over the whole version."""
        ...

    def dense_candidates(self, query: np.ndarray, k: int) -> Candidates:
        """The ``k`` nearest live chunks by cosine, best first."""
        ...

    def keyword_candidates(self, tokens: Sequence[str], k: int) -> Candidates:
        """The ``k`` best BM25 matches (score > 0), best first."""
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

    def restricted(self, filters: Filters) -> Version:
        """This version searched only among the documents ``filters`` selects (issue 26):
        its ``dense_candidates`` and ``keyword_candidates`` return the chunks an unfiltered
        search deep enough would, filtered afterwards (scores and IDF unchanged); every
        other method as this version's."""
        ...

    def document_meta(self) -> dict[str, DocMeta]:
        """Every document's metadata (retrieval.filters), by doc_id."""
        ...


@dataclass(frozen=True)
class Finding:
    """One part of an index as ``python -m bot check`` sees it."""

    part: str  # "CURRENT", "manifest", "segment <name>", "store", …
    problem: str | None = None  # None: the part is sound
    detail: str = ""  # what was checked, for a sound part
    repair: str = ""  # what fixes it (which command), for a damaged part

    @property
    def ok(self) -> bool:
        return self.problem is None


def cache_finding(index_dir: Path) -> Finding:
    """The embedding cache (both backends keep it in the index folder) as check reports it."""
    path = index_dir / CACHE
    if not path.exists():
        return Finding("embedding cache", detail="none (the next ingest embeds what it needs)")
    problem = cache_problem(index_dir, thorough=True)
    if problem:
        repair = "python -m bot ingest moves it aside and embeds again what it needs"
        return Finding("embedding cache", problem, repair=repair)
    return Finding("embedding cache", detail="sound")


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

    def stored_documents(self, select: Callable[[str], bool]) -> list[Document]:
        """The live version's documents whose doc_id ``select`` accepts, as it stores them
        (their ``content_hash`` is the manifest's), in corpus order; read without loading
        the search indexes; empty if nothing was published. An ingest hands them on for
        sources it could not read this time, so that they are kept, not removed."""
        ...

    def check(self) -> list[Finding]:
        """Every part of the live index verified (checksums where they are recorded), with
        what would repair each damaged one; reads, never writes."""
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
