"""The words a search matches on: tokenisers over the normalised search key, and BM25's IDF.

Shared by the read path (a question's tokens), the write path (each chunk's tokens) and
both backends. Tokenisers, all over ``corpus.normalize.search_key`` text:

* ``bigram``: overlapping character bigrams of each CJK run (a lone character
  stays a unigram); Latin words and numbers are whole tokens.
* ``jieba``: jieba's search mode with the domain dictionary (userdict.txt), run by
  rjieba (jieba-rs).
* ``both``: the two token lists concatenated.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

import qabot_settings

TOKENIZERS = ("bigram", "jieba", "both")
DEFAULT_TOKENIZER = "both"
USER_DICT = Path(__file__).with_name("userdict.txt")
# Bump when corpus.normalize.search_key or the tokenisers change output: every
# backend re-tokenises (and the embedding cache keys tokens) by it.
SEARCH_KEY_VERSION = "2"  # 2: jieba words from rjieba (same output, new cache key)
TOKENS_KEY = f"{DEFAULT_TOKENIZER}-{SEARCH_KEY_VERSION}"  # cached tokens depend on these only

_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+(?:[.\-][a-z0-9]+)*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def has_chinese(tokens: Iterable[str]) -> bool:
    """Whether any token holds a Chinese character (a question in Chinese, or mixed)."""
    return any(_CJK.search(token) for token in tokens)


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
    same words on all 5,756 shared-eval and seed texts), plus the domain dictionary.

    Importing rjieba already builds a segmenter of the default dictionary (its module-level
    ``cut``): that one is taken rather than building a second (~0.08 s of a cold ask, the
    GIL held). Nothing else here uses rjieba's module-level functions."""
    import rjieba

    segmenter = getattr(rjieba, "_DEFAULT_JIEBA", None) or rjieba.Jieba()
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
    on; one short question at a time, so its speed does not matter). Its dictionary is read
    a first character at a time from the cache folder (retrieval/jieba_dict.py: ~0.7 s less
    in a cold ask, the same words); the first process that finds no stored copy loads it as
    jieba does and stores it."""
    import jieba

    from retrieval import jieba_dict

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    folder = qabot_settings.cache_dir() / "jieba"
    if not jieba_dict.attach(tokenizer, folder):
        tokenizer.initialize()
        jieba_dict.save(tokenizer, folder)
    tokenizer.load_userdict(str(USER_DICT))
    return tokenizer


def jieba_words(key: str) -> list[str]:
    """jieba's precise-mode words (no overlapping sub-words)."""
    return _jieba().lcut(key)


def warm_up() -> None:
    """Load both segmenters' dictionaries now (~0.1 s together), e.g. beside the model load."""
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


@lru_cache(maxsize=1)
def english_function_words() -> frozenset[str]:
    """Lucene's English stop words (bm25s) and the question words: in a Chinese library
    they match the odd English phrase and say nothing about what a question is about."""
    from bm25s.stopwords import STOPWORDS_EN

    asking = "what which who whom whose when where why how do does did can could would should"
    return frozenset(STOPWORDS_EN) | frozenset(asking.split())


def lucene_idf(df: np.ndarray | float, n: int) -> np.ndarray | float:
    """BM25's (Lucene) inverse document frequency, as bm25s computes it."""
    return np.log(1 + (n - df + 0.5) / (df + 0.5))
