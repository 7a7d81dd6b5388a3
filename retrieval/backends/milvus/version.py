"""One version published in Milvus, read as a consistent whole (see manifest.py).

The rows a version shows stay until the second ingest after it (the next one lists them as
dead, the one after deletes them, and drops a chunks collection neither the live nor the
previous version names). A reader that finds rows of its version missing, or its
collection gone, while another version is live raises VersionRetiredError: the engine
loads the live version and asks again, rather than answering from what is left.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence

import numpy as np

from corpus.document import Document
from retrieval.backends.base import Candidates, ChunkRow
from retrieval.backends.milvus import client as meta
from retrieval.backends.milvus.manifest import (
    MilvusManifest,
    index_params,
    live_filter,
    read_current,
)
from retrieval.backends.milvus.schema import DOC_FIELDS, ROW_FIELDS, STRUCTURE_FIELDS, dense_search
from retrieval.errors import RetrievalError, VersionRetiredError
from retrieval.filters import DocMeta, Filters, metas_of
from retrieval.tokens import lucene_idf


class MilvusVersion:
    """One published version in Milvus, searched as a consistent whole."""

    def __init__(
        self,
        client,
        manifest: MilvusManifest,
        vocab: dict[str, list[int]],
        prefix: str | None = None,
    ) -> None:
        self.client = client
        self.manifest = manifest
        self.collection = manifest.collection
        self.prefix = prefix or manifest.collection.rsplit("_chunks_", 1)[0]
        meta.ensure_loaded(client, self.collection, self._index_params)
        self.vocab = vocab  # token -> [id, document frequency]
        self.filter = live_filter(manifest)
        self._doc_keys = {doc_id: int(e[1]) for doc_id, e in manifest.documents.items()}
        self._documents: OrderedDict[int, Document | None] = OrderedDict()
        self._lock = threading.Lock()
        self._metas: dict[str, DocMeta] | None = None
        self.filters: Filters | None = None  # set on a restricted view

    # --- filters (issue 26) -------------------------------------------------------------
    def document_meta(self) -> dict[str, DocMeta]:
        """Every document's metadata, from the manifest."""
        if self._metas is None:
            self._metas = metas_of(self.manifest)
        return self._metas

    def restricted(self, filters: Filters) -> MilvusVersion:
        """This version searched among the documents ``filters`` selects: a copy whose row
        filter also holds ``doc_key in [...]`` (or ``not in`` the others, whichever list is
        shorter; ``doc_key`` has an inverted index), so Milvus filters before it ranks."""
        if not filters:
            return self
        chosen = filters.select(self.document_meta())
        keys = sorted(self._doc_keys[d] for d in chosen)
        others = sorted(set(self._doc_keys.values()) - set(keys))
        view = copy.copy(self)
        view.filters = filters
        if not keys:
            view.filter = f"id < 0 and {self.filter}"
        elif len(others) < len(keys):
            view.filter = f"doc_key not in {others} and {self.filter}" if others else self.filter
        else:
            view.filter = f"doc_key in {keys} and {self.filter}"
        view.chunks_allowed = None
        return view

    def _index_params(self):
        """The chunks collection's index parameters, as ingest created them."""
        return index_params(self.client, self.manifest)

    def _replaced(self) -> bool:
        """Whether another version is live now (if Milvus cannot say, as if not)."""
        try:
            pointer = read_current(self.client, self.prefix)
        except RetrievalError:
            return False
        return pointer is None or pointer["version"] != self.version

    def _retired(self, what: str) -> VersionRetiredError:
        return VersionRetiredError(
            f"index version {self.version} was replaced and its {what} removed; "
            "load the live version"
        )

    def _read(self, call, *args, **kwargs):
        """``self.client.<call>(…)``; VersionRetiredError if it fails because a later
        ingest dropped the version's collection."""
        try:
            return getattr(self.client, call)(*args, **kwargs)
        except RetrievalError:
            if self._replaced() and not self.client.has_collection(self.collection):
                raise self._retired(f"collection {self.collection}") from None
            raise

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def size(self) -> int:
        return self.manifest.chunks

    @property
    def total(self) -> int:
        """The N of IDF: live chunks (the vocabulary counts live chunks only)."""
        return max(1, self.manifest.chunks)

    def idf(self, token: str) -> float:
        entry = self.vocab.get(token)
        df = entry[1] if entry else 0
        return float(lucene_idf(max(1, df), self.total))

    # --- candidates -------------------------------------------------------------------
    def _search(
        self, data, field: str, k: int, params: dict, within: Sequence[int] = ()
    ) -> Candidates:
        """(scores, ids) of the ``k`` best live chunks, best first; only chunks of ``within``
        when it is given."""
        where = f"id in {[int(i) for i in within]} and {self.filter}" if within else self.filter
        hits = self._read(
            "search",
            self.collection,
            data=[data],
            anns_field=field,
            limit=k,
            filter=where,
            search_params=params,
            output_fields=["id"],  # [] would return every field
        )[0]
        scores = np.array([h["distance"] for h in hits], np.float32)
        ids = np.array([h["id"] for h in hits], np.int64)
        order = np.lexsort((ids, -scores))
        return Candidates(scores[order], ids[order])

    def dense_candidates(self, query: np.ndarray, k: int) -> Candidates:
        if self.size == 0:
            return Candidates.empty()
        vector = np.asarray(query, np.float32).ravel().tolist()
        found = self._search(vector, "dense", k, dense_search(self.manifest.dense_index))
        short = len(found.ids) < min(k, self.size)
        if short and self.filters is None and self._replaced():
            raise self._retired(f"{min(k, self.size) - len(found.ids)} or more chunk rows")
        return found

    def keyword_candidates(self, tokens: Sequence[str], k: int) -> Candidates:
        return self._keywords(tokens, k)

    def _keywords(self, tokens: Sequence[str], k: int, within: Sequence[int] = ()) -> Candidates:
        empty = Candidates.empty()
        if not tokens or self.size == 0:
            return empty
        if self.manifest.keywords == "bm25":  # Milvus's BM25 over its own jieba words
            query = " ".join(tokens)
            scores, ids = self._search(query, "keywords", k, {"metric_type": "BM25"}, within)
            scores = np.abs(scores)  # Milvus Lite reports BM25 as a negative distance
        else:
            weights: dict[int, float] = {}
            for token in tokens:  # a repeated query token counts again, as in bm25s
                entry = self.vocab.get(token)
                if entry:
                    weights[entry[0]] = weights.get(entry[0], 0.0) + self.idf(token)
            if not weights:
                return empty
            scores, ids = self._search(weights, "keywords", k, {"metric_type": "IP"}, within)
        keep = scores > 0
        return Candidates(scores[keep], ids[keep])

    def keyword_weights(self, tokens: Sequence[str], ids: Sequence[int]) -> dict[int, float]:
        """One keyword search filtered to ``ids`` (the engine scores only those chunks)."""
        wanted = list(dict.fromkeys(int(i) for i in ids))
        if not wanted:
            return {}
        scores, found = self._keywords(tokens, len(wanted), within=wanted)
        return dict(zip(found.tolist(), scores.tolist(), strict=True))

    # --- rows and documents -------------------------------------------------------------
    def rows(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        """The rows of ``ids`` that are chunks of this version (an id of none is left out);
        VersionRetiredError if some are missing and another version is live: a later ingest
        deleted them."""
        wanted = [int(i) for i in dict.fromkeys(ids)]
        found: dict[int, ChunkRow] = {}
        for start in range(0, len(wanted), 1_000):
            part = wanted[start : start + 1_000]
            rows = self._read(
                "query",
                self.collection,
                filter=f"id in {part} and {self.filter}",
                output_fields=ROW_FIELDS,
            )
            for r in rows:
                found[int(r["id"])] = ChunkRow(
                    int(r["id"]),
                    int(r["doc_key"]),
                    r["doc_id"],
                    int(r["idx"]),
                    int(r["start"]),
                    int(r["stop"]),
                    *(r.get(name) or None for name in STRUCTURE_FIELDS),
                )
        if len(found) < len(wanted) and self._replaced():
            raise self._retired(f"{len(wanted) - len(found)} chunk rows")
        return found

    def document(self, doc_id: str) -> Document | None:
        """The document rebuilt from its chunk rows (cached: a handful per question);
        VersionRetiredError if its rows are gone and another version is live."""
        key = self._doc_keys.get(doc_id)
        if key is None:
            return None
        with self._lock:
            if key in self._documents:
                self._documents.move_to_end(key)
                return self._documents[key]
        doc = self._assemble(doc_id, key)
        with self._lock:
            self._documents[key] = doc
            while len(self._documents) > 256:
                self._documents.popitem(last=False)
        return doc

    def _assemble(self, doc_id: str, key: int) -> Document | None:
        rows = self._read(
            "query",
            self.collection,
            filter=f"doc_key == {key}",
            output_fields=DOC_FIELDS,
            limit=16_384,
        )
        complete = sorted(int(r["idx"]) for r in rows) == list(range(len(rows)))
        if (not rows or not complete) and self._replaced():
            raise self._retired(f"rows of {doc_id}")
        return assemble(doc_id, rows)

    def doc_keys(self) -> list[int]:
        return list(self._doc_keys.values())

    def doc_ids(self) -> Iterator[str]:
        return iter(self.manifest.documents)

    def sources(self) -> list[tuple]:
        keys = self.doc_keys()
        found: dict[int, tuple] = {}
        fields = ["doc_key", "doc_id", "title", "date", "source", "url", "doc_chars"]
        for start in range(0, len(keys), 1_000):
            part = keys[start : start + 1_000]
            rows = self._read(
                "query",
                self.collection,
                filter=f"idx == 0 and doc_key in {part}",
                output_fields=fields,
            )
            for r in rows:
                found[int(r["doc_key"])] = (
                    r["doc_id"],
                    r["title"],
                    r["date"] or None,
                    r["source"] or None,
                    r["url"] or None,
                    int(r["doc_chars"]),
                )
        if len(found) < len(keys) and self._replaced():
            raise self._retired(f"rows of {len(keys) - len(found)} documents")
        return [found[k] for k in keys if k in found]

    def chunk_texts(self) -> Iterator[tuple[int, str, str]]:
        for doc_id, key in self._doc_keys.items():
            rows = self.client.query(
                self.collection,
                filter=f"doc_key == {key}",
                output_fields=["id", "idx", "text"],
                limit=16_384,
            )
            for r in sorted(rows, key=lambda r: r["idx"]):
                yield int(r["id"]), doc_id, r["text"]


def assemble(doc_id: str, rows: list[dict]) -> Document | None:
    """A document's exact text from its chunks (they overlap; head and tails fill the gaps)."""
    if not rows:
        return None
    rows = sorted(rows, key=lambda r: r["idx"])
    parts = [rows[0]["head"]]
    pos = int(rows[0]["start"])
    for r in rows:
        start, stop = int(r["start"]), int(r["stop"])
        if stop > pos:
            parts.append(r["text"][pos - start :])
            pos = stop
        if r["tail"]:
            parts.append(r["tail"])
            pos += len(r["tail"])
    first = rows[0]
    return Document(
        doc_id,
        first["title"],
        "".join(parts),
        first["source"] or None,
        first["date"] or None,
        first["url"] or None,
    )
