"""Which sentence of an excerpt answers the question best (lexical, IDF-weighted)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from corpus.chunking import split_sentences
from corpus.normalize import search_key
from retrieval.keywords import tokenize


@dataclass(frozen=True)
class Idf:
    """BM25-style inverse document frequencies of one index's tokens."""

    weights: dict[str, float]
    unseen: float  # a token the corpus never uses weighs as much as the rarest one

    def __call__(self, token: str) -> float:
        return self.weights.get(token, self.unseen)


def inverse_document_frequency(token_lists: Iterable[Sequence[str]]) -> Idf:
    df: Counter[str] = Counter()
    n = 0
    for tokens in token_lists:
        df.update(set(tokens))
        n += 1
    weights = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
    return Idf(weights, max(weights.values(), default=1.0))


def sentence_scores(
    text: str, query_tokens: Sequence[str], idf: Idf
) -> list[tuple[tuple[int, int], float]]:
    """Each sentence span of ``text`` with the IDF mass of query tokens it contains."""
    wanted = set(query_tokens)
    scored = []
    for start, end in split_sentences(text):
        found = wanted.intersection(tokenize(search_key(text[start:end])))
        scored.append(((start, end), sum(idf(t) for t in found)))
    return scored


def best_sentence(text: str, query_tokens: Sequence[str], idf: Idf) -> tuple[int, int] | None:
    """Span of the best-matching sentence, or None when no query token occurs."""
    scored = sentence_scores(text, query_tokens, idf)
    if not scored:
        return None
    span, score = max(scored, key=lambda item: item[1])
    return span if score > 0 else None
