"""Which sentence of an excerpt answers the question best (lexical, IDF-weighted)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from corpus.chunking import split_sentences
from corpus.normalize import search_key
from retrieval.keywords import tokenize

Idf = Callable[[str], float]
"""A token's inverse document frequency over one index version (see LoadedIndex.idf)."""


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
