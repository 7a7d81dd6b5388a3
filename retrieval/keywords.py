"""Keyword search: BM25 (bm25s) over tokens of the normalised search key.

Tokenisers, all over ``corpus.normalize.search_key`` text:

* ``bigram``: overlapping character bigrams of each CJK run (a lone character
  stays a unigram); Latin words and numbers are whole tokens.
* ``jieba``: jieba's search mode with the domain dictionary (userdict.txt), run by
  rjieba (jieba-rs).
* ``both``: the two token lists concatenated.
"""

from __future__ import annotations

import logging
import re
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import count
from pathlib import Path

import numpy as np

TOKENIZERS = ("bigram", "jieba", "both")
DEFAULT_TOKENIZER = "both"
USER_DICT = Path(__file__).with_name("userdict.txt")

_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+(?:[.\-][a-z0-9]+)*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def bigram_tokens(key: str) -> list[str]:
    tokens: list[str] = []
    for run in _RUNS.findall(key):
        if not _CJK.match(run) or len(run) == 1:
            tokens.append(run)
        else:
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    return tokens


@lru_cache(maxsize=1)
def _segmenter():
    """jieba's dictionary and algorithm in Rust (rjieba, ~13x faster than pure-Python jieba,
    same words on all 5,756 shared-eval and seed texts), plus the domain dictionary."""
    import rjieba

    segmenter = rjieba.Jieba()
    for line in USER_DICT.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts:
            freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            segmenter.add_word(parts[0], freq, parts[2] if len(parts) > 2 else None)
    return segmenter


def jieba_tokens(key: str) -> list[str]:
    """jieba search-mode words of each CJK run; Latin words and numbers stay whole."""
    cut = _segmenter().cut_for_search
    return [word for run in _RUNS.findall(key) for word in (cut(run) if _CJK.match(run) else [run])]


@lru_cache(maxsize=1)
def _jieba():
    """Pure-Python jieba for a question's precise-mode words (what confidence was calibrated
    on; one short question at a time, so its speed does not matter)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.load_userdict(str(USER_DICT))
    return tokenizer


def jieba_words(key: str) -> list[str]:
    """jieba's precise-mode words (no overlapping sub-words)."""
    return _jieba().lcut(key)


def warm_up() -> None:
    """Load both segmenters' dictionaries now (a second each), e.g. beside the model load."""
    _segmenter()
    _jieba().initialize()


def tokenize(key: str, mode: str = DEFAULT_TOKENIZER) -> list[str]:
    """Tokens of an already normalised search key."""
    if mode == "bigram":
        return bigram_tokens(key)
    if mode == "jieba":
        return jieba_tokens(key)
    if mode == "both":
        return bigram_tokens(key) + jieba_tokens(key)
    raise ValueError(f"unknown tokenizer {mode!r}; choose from {', '.join(TOKENIZERS)}")


def lucene_idf(df: np.ndarray | float, n: int) -> np.ndarray | float:
    """BM25's (Lucene) inverse document frequency, as bm25s computes it."""
    return np.log(1 + (n - df + 0.5) / (df + 0.5))


class KeywordIndex:
    """BM25 (bm25s) over pre-tokenised passages; row ``i`` is passage ``i`` of one segment.

    Saved with each segment and loaded memory-mapped: a query reads only the
    columns of its own tokens. Scores can be re-weighted to another IDF so that
    several segments score as one index (see :meth:`scores`).
    """

    def __init__(self, bm25) -> None:
        self._bm25 = bm25
        self.size = int(bm25.scores["num_docs"]) if getattr(bm25, "scores", None) else 0

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
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
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
        out = np.zeros(self.size, dtype=np.float32)
        if not self.size:
            return out
        data, indices = self._bm25.scores["data"], self._bm25.scores["indices"]
        parts_i, parts_w = [], []
        for token in query_tokens:  # repeated query tokens count again, as in bm25s
            span = self.column(token)
            if span is None or span[0] == span[1]:
                continue
            weights = np.asarray(data[span[0] : span[1]], dtype=np.float32)
            if idf is not None:
                weights = weights * np.float32(
                    idf[token] / lucene_idf(span[1] - span[0], self.size)
                )
            parts_i.append(indices[span[0] : span[1]])
            parts_w.append(weights)
        if parts_i:
            out += np.bincount(
                np.concatenate(parts_i), np.concatenate(parts_w), minlength=self.size
            ).astype(np.float32)
        return out
