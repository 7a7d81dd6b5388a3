"""One version of the local index folder, loaded and ready to search."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from corpus.document import Document
from retrieval.backends.base import Candidates, ChunkRow, Manifest
from retrieval.backends.local.segments import RowFilter, Segment
from retrieval.backends.local.store import ChunkStore
from retrieval.errors import VersionRetiredError
from retrieval.filters import DocMeta, Filters, metas_of
from retrieval.tokens import lucene_idf


class LocalVersion:
    """One version, ready to search: its segments (shared with other versions), the chunk
    ids deleted from them, and the store for the few rows a question shows."""

    def __init__(
        self,
        folder: Path,
        manifest: Manifest,
        segments: list[Segment],
        deleted: np.ndarray,
        store: ChunkStore,
        is_live: Callable[[], bool] = lambda: True,
    ) -> None:
        """``is_live``: whether this version is still the published one (rows missing from
        a live version are left out, as the contract says; from a replaced one, they mean
        it was retired)."""
        import faiss  # loaded with the first version, not by --help

        self.folder = folder
        self.manifest = manifest
        self.segments = segments
        self.deleted = deleted
        self.store = store
        self._is_live = is_live
        self.total = sum(s.size for s in segments)  # rows, deleted ones included (as Lucene)
        self._dead_rows: list[np.ndarray | None] = []
        self._selectors: list[object | None] = []
        for seg in segments:
            dead = np.nonzero(np.isin(seg.ids, deleted))[0] if len(deleted) else None
            self._dead_rows.append(dead if dead is not None and len(dead) else None)
            if dead is not None and len(dead):
                batch = faiss.IDSelectorBatch(np.asarray(seg.ids[dead], np.int64))
                self._selectors.append((batch, faiss.IDSelectorNot(batch)))
            else:
                self._selectors.append(None)
        self._doc_keys = {doc_id: int(e[1]) for doc_id, e in manifest.documents.items()}
        self._documents: dict[int, Document] = {}
        self._metas: dict[str, DocMeta] | None = None
        self._row_keys: list[np.ndarray] | None = None  # per segment: each row's doc_key
        self._views: dict[Filters, RestrictedVersion] = {}
        self._views_lock = threading.Lock()

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def size(self) -> int:
        """Live chunks."""
        return self.manifest.chunks

    # --- statistics -------------------------------------------------------------------
    def document_frequency(self, token: str) -> int:
        return sum(seg.keywords.document_frequency(token) for seg in self.segments)

    def idf(self, token: str) -> float:
        """BM25 IDF over the whole version; a token it never uses weighs as the rarest."""
        return float(lucene_idf(max(1, self.document_frequency(token)), self.total))

    # --- candidates -------------------------------------------------------------------
    def dense_candidates(self, query: np.ndarray, k: int) -> Candidates:
        """The ``k`` nearest live chunks, best first."""
        query = np.ascontiguousarray(query, np.float32)
        parts = [
            seg.search_dense(query, k, sel[1] if sel else None, dead)
            for seg, sel, dead in zip(self.segments, self._selectors, self._dead_rows, strict=True)
        ]
        return _top(parts, k)

    def keyword_candidates(self, tokens: Sequence[str], k: int) -> Candidates:
        """The ``k`` best BM25 matches (score > 0), best first."""
        if not tokens:
            return Candidates.empty()
        idf = {t: self.idf(t) for t in tokens}
        parts = [
            seg.search_keywords(tokens, k, idf, dead)
            for seg, dead in zip(self.segments, self._dead_rows, strict=True)
        ]
        return _top(parts, k)

    def keyword_weights(self, tokens: Sequence[str], ids: Sequence[int]) -> dict[int, float]:
        """BM25 score for ``tokens`` of each chunk of ``ids`` (as keyword_candidates scores
        it), read from the tokens' postings; chunks without those tokens are left out."""
        if not tokens or not len(ids):
            return {}
        idf = {t: self.idf(t) for t in tokens}
        wanted = np.unique(np.asarray(ids, np.int64))
        out: dict[int, float] = {}
        for seg in self.segments:
            found, scores = seg.keyword_weights(tokens, wanted, idf)
            pairs = zip(found.tolist(), scores.tolist(), strict=True)
            out.update((i, s) for i, s in pairs if s > 0)
        return out

    # --- rows and documents -------------------------------------------------------------
    def rows(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        """The rows of ``ids`` (live chunks of this version); VersionRetiredError if some
        are gone: a later ingest retired this version and collected its rows."""
        found = self.store.chunks(ids)
        missing = len(set(int(i) for i in ids)) - len(found)
        if missing and not self._is_live():
            raise self._retired(f"{missing} chunk rows")
        return found

    def document(self, doc_id: str) -> Document | None:
        """The document as this version has it (cached: a handful per question)."""
        key = self._doc_keys.get(doc_id)
        if key is None:
            return None
        doc = self._documents.get(key)
        if doc is None:
            doc = self.store.document(key)
            if doc is None:
                if not self._is_live():
                    raise self._retired(f"document {doc_id!r}")
                return None
            if len(self._documents) > 256:
                self._documents.clear()
            self._documents[key] = doc
        return doc

    def _retired(self, what: str) -> VersionRetiredError:
        return VersionRetiredError(
            f"index version {self.version} was replaced and its {what} removed; "
            "load the live version"
        )

    def doc_keys(self) -> list[int]:
        """Store keys of the version's documents, in corpus order."""
        return list(self._doc_keys.values())

    def sources(self) -> list[tuple]:
        """(doc_id, title, date, source, url, characters) of every document, in corpus order."""
        keys = self.doc_keys()
        found = self.store.sources(keys)
        if len(found) < len(keys) and not self._is_live():
            raise self._retired(f"{len(keys) - len(found)} documents")
        return found

    def chunk_texts(self) -> Iterator[tuple[int, str, str]]:
        """(chunk id, doc_id, chunk text) of every live chunk, for evaluation baselines."""
        return iter(self.store.chunk_texts(self.doc_keys()))

    def doc_ids(self) -> Iterator[str]:
        """Document ids in corpus order."""
        return iter(self.manifest.documents)

    # --- filters (issue 26) -------------------------------------------------------------
    def document_meta(self) -> dict[str, DocMeta]:
        """Every document's metadata, from the manifest (read once)."""
        if self._metas is None:
            self._metas = metas_of(self.manifest)
        return self._metas

    def restricted(self, filters: Filters) -> LocalVersion | RestrictedVersion:
        """This version searched among the documents ``filters`` selects: per segment, a
        mask of the rows of those documents (built from each row's doc_key, read from the
        store once per version), which FAISS takes as an ID selector (flat) or the PQ scan
        as a row filter, and BM25 as its candidate mask. The last 16 are kept."""
        if not filters:
            return self
        with self._views_lock:
            view = self._views.get(filters)
            if view is not None:
                return view
            if self._row_keys is None:
                ids, keys = self.store.chunk_doc_keys()
                self._row_keys = []
                for seg in self.segments:
                    at = np.minimum(np.searchsorted(ids, seg.ids), max(len(ids) - 1, 0))
                    found = ids[at] == seg.ids if len(ids) else np.zeros(seg.size, bool)
                    self._row_keys.append(np.where(found, keys[at] if len(ids) else -1, -1))
            chosen = filters.select(self.document_meta())
            wanted = np.array(sorted(self._doc_keys[d] for d in chosen), np.int64)
            allowed = []
            for row_keys, dead in zip(self._row_keys, self._dead_rows, strict=True):
                mask = np.isin(row_keys, wanted)
                if dead is not None:
                    mask[dead] = False
                allowed.append(RowFilter(mask, np.flatnonzero(mask)))
            view = RestrictedVersion(self, filters, allowed)
            if len(self._views) >= 16:
                self._views.pop(next(iter(self._views)))
            self._views[filters] = view
            return view


class RestrictedVersion:
    """A :class:`LocalVersion` searched only among some documents' chunks (see
    :meth:`LocalVersion.restricted`); everything but the two searches is the version's."""

    def __init__(self, base: LocalVersion, filters: Filters, allowed: list[RowFilter]) -> None:
        self.base = base
        self.filters = filters
        self.allowed = allowed
        self.manifest = base.manifest
        self.chunks_allowed = int(sum(len(a.rows) for a in allowed))

    def __getattr__(self, name: str):
        return getattr(self.base, name)

    @property
    def version(self) -> str:
        return self.base.version

    @property
    def size(self) -> int:
        return self.base.size

    @property
    def total(self) -> int:
        return self.base.total

    def restricted(self, filters: Filters):
        return self.base.restricted(filters)

    def dense_candidates(self, query: np.ndarray, k: int) -> Candidates:
        query = np.ascontiguousarray(query, np.float32)
        parts = [
            seg.search_dense(query, k, allowed=allowed)
            for seg, allowed in zip(self.base.segments, self.allowed, strict=True)
        ]
        return _top(parts, k)

    def keyword_candidates(self, tokens: Sequence[str], k: int) -> Candidates:
        if not tokens:
            return Candidates.empty()
        idf = {t: self.base.idf(t) for t in tokens}
        parts = [
            seg.search_keywords(tokens, k, idf, None, allowed)
            for seg, allowed in zip(self.base.segments, self.allowed, strict=True)
        ]
        return _top(parts, k)


def _top(parts: list[tuple[np.ndarray, np.ndarray]], k: int) -> Candidates:
    """Merge per-segment (scores, ids) into the best ``k``, ties by lower id."""
    if not parts:
        return Candidates.empty()
    scores = np.concatenate([p[0] for p in parts]).astype(np.float32)
    ids = np.concatenate([p[1] for p in parts]).astype(np.int64)
    order = np.lexsort((ids, -scores))[:k]
    return Candidates(scores[order], ids[order])
