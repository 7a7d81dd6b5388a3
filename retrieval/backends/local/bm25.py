"""The local backend's keyword index: BM25 (bm25s) postings of one segment's chunks.

Tokens come from :mod:`retrieval.tokens`; scores are Lucene BM25 as bm25s computes them,
re-weighted to a version-wide IDF so that several segments score as one.
"""

from __future__ import annotations

import logging
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import count
from pathlib import Path

import numpy as np

from retrieval.tokens import lucene_idf

COMMON_SHARE = 0.03  # a token in more than this share of passages is "common" for pruning


def _best(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows) of the ``k`` highest scores above zero, best first."""
    return _best_of(scores, np.arange(len(scores)), k)


def _best_of(scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[scores[top] > 0]
    top = top[np.argsort(-scores[top], kind="stable")]
    return scores[top], rows[top].astype(np.int64)


def sorted_positions(values: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions in ``values``, which of ``wanted`` they are) of those of ``wanted`` that
    the ascending array ``values`` holds, by binary search."""
    at = np.searchsorted(values, wanted)
    hit = at < len(values)
    hit[hit] = values[at[hit]] == wanted[hit]
    return at[hit], hit


class KeywordIndex:
    """BM25 (bm25s) over pre-tokenised passages; row ``i`` is passage ``i`` of one segment.

    Saved with each segment and loaded memory-mapped: a query reads only the
    columns of its own tokens. Scores can be re-weighted to another IDF so that
    several segments score as one index (see :meth:`scores`).
    """

    def __init__(self, bm25) -> None:
        self._bm25 = bm25
        self.size = int(bm25.scores["num_docs"]) if getattr(bm25, "scores", None) else 0
        self._max: dict[int, np.float32] = {}  # column start -> its largest weight

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        """bm25s's Lucene BM25 score matrix, computed with vectorised numpy.

        Same numbers as ``bm25s.BM25(k1, b).index(token_lists)`` (tests check it) at
        a fraction of the time and memory: bm25s walks every token in Python
        several times, which a million passages cannot afford.
        """
        import bm25s
        from scipy import sparse

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import
        bm25 = bm25s.BM25(k1=k1, b=b)
        vocab: defaultdict[str, int] = defaultdict(count().__next__)  # token -> id, in C
        ids, counts = array("q"), array("q")  # one int64 per token, no per-token objects
        token_id = vocab.__getitem__
        for tokens in token_lists:
            ids.extend(map(token_id, tokens))
            counts.append(len(tokens))
        bm25.nonoccurrence_array = None
        n = len(counts)
        if not n:
            return cls(bm25)
        lengths = np.frombuffer(counts, np.int64)
        ids = np.frombuffer(ids, np.int64)
        docs = np.repeat(np.arange(n, dtype=np.int32), lengths)
        # Token-major term frequencies: occurrences come in document order, so within
        # each token's row the documents are already sorted and summing duplicates is
        # linear (np.unique's sort of every (token, doc) pair took ~3x longer).
        tf_matrix = sparse.csr_matrix(
            (np.ones(len(ids), np.float32), (ids, docs)), shape=(max(len(vocab), 1), n)
        )
        tf_matrix.sum_duplicates()
        tf = tf_matrix.data
        doc_of = tf_matrix.indices
        df = np.diff(tf_matrix.indptr)
        token_of = np.repeat(np.arange(len(df)), df)
        avg = float(lengths.mean()) or 1.0
        idf = lucene_idf(df, n)
        norm = k1 * ((1 - b) + b * lengths[doc_of] / avg)
        bm25.scores = {
            "data": (idf[token_of] * tf / (norm + tf)).astype(np.float32),
            "indices": doc_of.astype(np.int32),
            "indptr": tf_matrix.indptr.astype(np.int64),
            "num_docs": n,
        }
        bm25.vocab_dict = dict(vocab)
        return cls(bm25)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.size:
            self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        if not (folder / "params.index.json").is_file():
            return cls(bm25s.BM25())
        return cls(bm25s.BM25.load(str(folder), mmap=True, show_progress=False))

    def column(self, token: str) -> tuple[int, int] | None:
        """(start, end) of ``token``'s entries in the score matrix, or None if unseen."""
        token_id = self._bm25.vocab_dict.get(token) if self.size else None
        indptr = self._bm25.scores["indptr"] if self.size else ()
        if token_id is None or token_id + 1 >= len(indptr):
            return None
        return int(indptr[token_id]), int(indptr[token_id + 1])

    def top(
        self,
        query_tokens: Sequence[str],
        k: int,
        idf: dict[str, float] | None = None,
        dead_rows: np.ndarray | None = None,
        allowed: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the ``k`` best live passages with a score above zero, best first
        (ties in any order): the same as the top of :meth:`scores`, usually without summing
        the long postings of common tokens over every passage. ``allowed`` (a boolean mask
        of rows, dead rows already False; it replaces ``dead_rows``): only those rows, with
        the scores they have without it (a filter, issue 26).

        MaxScore-style pruning: rare tokens score every passage they occur in; the best
        of those get their common tokens' weights looked up; a passage without any rare
        token cannot reach the k-th best score when the common tokens' largest weights
        add up to less, and only then is the shortcut taken. Otherwise all postings
        are summed, as in :meth:`scores`.
        """
        terms = self._terms(query_tokens, idf)
        common = [t for t in terms if t[1] - t[0] > self.size * COMMON_SHARE]
        rare = [t for t in terms if t[1] - t[0] <= self.size * COMMON_SHARE]
        if allowed is not None:
            dead_rows = allowed  # a boolean mask: _sum and _sparse_sum read either
        if common and rare and k > 0:
            found = self._pruned_top(rare, common, k, dead_rows)
            if found is not None:
                return found
        return _best(self._sum(terms, dead_rows), k)

    def _terms(
        self, query_tokens: Sequence[str], idf: dict[str, float] | None
    ) -> list[tuple[int, int, np.float32]]:
        """(start, end, weight factor) of each query token's column (repeats count again)."""
        terms = []
        for token in query_tokens:
            span = self.column(token)
            if span is None or span[0] == span[1]:
                continue
            factor = 1.0
            if idf is not None:
                factor = idf[token] / lucene_idf(span[1] - span[0], self.size)
            terms.append((span[0], span[1], np.float32(factor)))
        return terms

    def _sum(self, terms, dead_rows: np.ndarray | None) -> np.ndarray:
        """Every passage's summed weight over ``terms`` (zero for dead rows)."""
        out = np.zeros(self.size, dtype=np.float32)
        if terms:
            rows, weights = self._postings(terms)
            out += np.bincount(rows, weights, minlength=self.size).astype(np.float32)
        if dead_rows is not None and dead_rows.dtype == bool:
            out[~dead_rows] = 0.0  # an allowed mask
        elif dead_rows is not None and len(dead_rows):
            out[dead_rows] = 0.0
        return out

    def _postings(self, terms) -> tuple[np.ndarray, np.ndarray]:
        """The rows and re-weighted weights of ``terms``' postings, concatenated."""
        data, indices = self._bm25.scores["data"], self._bm25.scores["indices"]
        rows = np.concatenate([indices[a:b] for a, b, _ in terms])
        weights = np.concatenate([np.asarray(data[a:b]) * f for a, b, f in terms])
        return rows, weights

    def _pruned_top(self, rare, common, k: int, dead_rows) -> tuple | None:
        """The exact top k by MaxScore pruning, or None where pruning cannot prove it."""
        candidates, partial = self._sparse_sum(rare, dead_rows)
        if len(candidates) < k:
            return None  # passages with common tokens only could still be in the top k
        bound = float(sum(self._max_weight(a, b) * f for a, b, f in common)) * (1 + 1e-5)
        m = min(len(candidates), 4 * k)  # the best by rare tokens: their full scores set a floor
        best = np.argpartition(-partial, m - 1)[:m]
        floor = float(
            np.partition(self._add(common, candidates[best], partial[best]), m - k)[m - k]
        )
        if bound >= floor * (1 - 1e-5):
            return None  # a passage without rare tokens might still beat the k-th best
        alive = partial + bound >= floor * (1 - 1e-5)
        rows = candidates[alive]
        return _best_of(self._add(common, rows, partial[alive]), rows, k)

    def _sparse_sum(self, terms, dead_rows) -> tuple[np.ndarray, np.ndarray]:
        """(rows, summed weights) of the live passages that hold any of ``terms``."""
        rows, weights = self._postings(terms)
        rows, where = np.unique(rows, return_inverse=True)
        sums = np.bincount(where, weights, minlength=len(rows)).astype(np.float32)
        if dead_rows is not None and dead_rows.dtype == bool:  # an allowed mask
            live = dead_rows[rows]
            rows, sums = rows[live], sums[live]
        elif dead_rows is not None and len(dead_rows):
            live = ~np.isin(rows, dead_rows)
            rows, sums = rows[live], sums[live]
        return rows, sums

    def _add(self, terms, rows: np.ndarray, base: np.ndarray) -> np.ndarray:
        """``base`` plus each term's weight in each of ``rows`` (sorted postings: binary search)."""
        data, indices = self._bm25.scores["data"], self._bm25.scores["indices"]
        out = base.astype(np.float32, copy=True)
        for a, b, factor in terms:
            at, hit = sorted_positions(indices[a:b], rows)
            out[hit] += np.asarray(data[a:b])[at] * factor
        return out

    def _max_weight(self, start: int, end: int) -> np.float32:
        found = self._max.get(start)
        if found is None:
            found = self._max[start] = np.float32(np.max(self._bm25.scores["data"][start:end]))
        return found

    def weights_of(
        self, query_tokens: Sequence[str], rows: np.ndarray, idf: dict[str, float] | None = None
    ) -> np.ndarray:
        """The BM25 score of each of ``rows`` for ``query_tokens`` (as :meth:`scores` would
        give it), looked up in the tokens' postings: no other passage is read."""
        rows = np.asarray(rows, np.int64)
        return self._add(self._terms(query_tokens, idf), rows, np.zeros(len(rows), np.float32))

    def document_frequency(self, token: str) -> int:
        span = self.column(token)
        return span[1] - span[0] if span else 0

    def scores(
        self, query_tokens: Sequence[str], idf: dict[str, float] | None = None
    ) -> np.ndarray:
        """BM25 score of every passage (zeros where nothing matches).

        With ``idf`` (token -> IDF over the whole index) each token's column is
        re-weighted from this segment's own IDF to the global one.
        """
        if not self.size:
            return np.zeros(0, dtype=np.float32)
        return self._sum(self._terms(query_tokens, idf), None)
