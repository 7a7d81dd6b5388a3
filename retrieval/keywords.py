"""Keyword search: BM25 (bm25s) over tokens of the normalised search key.

Tokenisers, all over ``corpus.normalize.search_key`` text:

* ``bigram``: overlapping character bigrams of each CJK run (a lone character
  stays a unigram); Latin words and numbers are whole tokens.
* ``jieba``: jieba's search mode with the domain dictionary (userdict.txt).
* ``both``: the two token lists concatenated.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache
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
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.load_userdict(str(USER_DICT))
    return tokenizer


def jieba_tokens(key: str) -> list[str]:
    return [
        word
        for run in _RUNS.findall(key)
        for word in (_jieba().cut_for_search(run) if _CJK.match(run) else [run])
    ]


def jieba_words(key: str) -> list[str]:
    """jieba's precise-mode words (no overlapping sub-words)."""
    return _jieba().lcut(key)


def tokenize(key: str, mode: str = DEFAULT_TOKENIZER) -> list[str]:
    """Tokens of an already normalised search key."""
    if mode == "bigram":
        return bigram_tokens(key)
    if mode == "jieba":
        return jieba_tokens(key)
    if mode == "both":
        return bigram_tokens(key) + jieba_tokens(key)
    raise ValueError(f"unknown tokenizer {mode!r}; choose from {', '.join(TOKENIZERS)}")


class KeywordIndex:
    """BM25 over pre-tokenised passages; row ``i`` is passage ``i``."""

    def __init__(self, token_lists: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import
        self.size = len(token_lists)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        if self.size:
            self._bm25.index([list(t) for t in token_lists], show_progress=False)

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every passage for the query (zeros where nothing matches)."""
        if not self.size or not query_tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(list(query_tokens)), dtype=np.float32)
