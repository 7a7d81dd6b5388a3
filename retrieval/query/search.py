"""Hybrid search over one loaded index: dense + BM25, fused, neighbours merged."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from corpus.normalize import search_key
from retrieval import threads
from retrieval.backends.base import ChunkRow, Version
from retrieval.tokens import has_chinese, tokenize


@dataclass(frozen=True)
class SearchSettings:
    """Fusion knobs (defaults chosen by measurement, see docs/quality.md)."""

    fusion: str = "weighted"  # "weighted" or "rrf"
    rrf_k: int = 60
    dense_weight: float = 0.3  # for "weighted": share of the (min-max scaled) dense score
    latin_dense_weight: float = 0.8  # the same, for a question without Chinese characters
    candidates: int = 100  # taken from each of the two searches before fusion
    max_merged_chars: int = 600  # a merged excerpt stops growing past this (~2 chunks)
    # Within the top document, question words of its title keep this share of their BM25
    # weight when its chunks are ordered among themselves (see subject_order).
    subject_weight: float = 0.3
    subject_depth: int = 20  # fused ranks within which the top document's chunks are reordered

    def for_question(self, tokens: list[str]) -> SearchSettings:
        """The settings for one question's tokens.

        A question with no Chinese character (English) leans on the cross-lingual dense
        model: in Chinese documents its words match only stray Latin text (a name in
        brackets), which BM25 ranks first because such words are rare.
        """
        if has_chinese(tokens) or self.latin_dense_weight == self.dense_weight:
            return self
        return replace(self, dense_weight=self.latin_dense_weight)


@dataclass
class Passage:
    """A span of one document that search returns (one or more merged chunks)."""

    doc_id: str
    start: int
    end: int
    score: float
    dense: float  # best dense (cosine) similarity among its chunks (-1: keyword-only)
    chunks: list[ChunkRow]  # the chunk rows it was merged from, best first

    @property
    def chunk_ids(self) -> list[int]:
        return [chunk.id for chunk in self.chunks]


def _ranks(scores: np.ndarray, ids: np.ndarray) -> dict[int, int]:
    order = np.argsort(-scores, kind="stable")
    return {int(ids[i]): r for r, i in enumerate(order)}


def fuse(
    dense_ids: np.ndarray,
    dense_scores: np.ndarray,
    kw_ids: np.ndarray,
    kw_scores: np.ndarray,
    settings: SearchSettings,
) -> dict[int, float]:
    """Chunk id -> fused score, from the two candidate lists (best first)."""
    fused: dict[int, float] = {}
    if settings.fusion == "rrf":
        for cid, rank in _ranks(dense_scores, dense_ids).items():
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (settings.rrf_k + rank + 1)
        for rank, cid in enumerate(kw_ids.tolist()):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (settings.rrf_k + rank + 1)
        return fused
    if settings.fusion == "weighted":
        top_kw = float(kw_scores.max()) if len(kw_scores) and kw_scores.max() > 0 else 1.0
        lo = float(dense_scores.min()) if len(dense_scores) else 0.0
        hi = float(dense_scores.max()) if len(dense_scores) else 1.0
        span = hi - lo or 1.0
        w = settings.dense_weight
        for cid, score in zip(dense_ids.tolist(), dense_scores.tolist(), strict=True):
            fused[cid] = w * (score - lo) / span
        for cid, score in zip(kw_ids.tolist(), kw_scores.tolist(), strict=True):
            fused[cid] = fused.get(cid, 0.0) + (1 - w) * score / top_kw
        return fused
    raise ValueError(f"unknown fusion {settings.fusion!r}")


@dataclass(frozen=True)
class SearchSignals:
    """What the two searches said about a question, for the confidence model.

    Read off the candidate lists search has anyway: no extra work per question.
    """

    dense_top: float = 0.0  # best dense (cosine) similarity
    dense_median: float = 0.0  # median similarity of the dense candidates
    keyword_top: float = 0.0  # best BM25 score (0: no keyword match)
    keyword_second: float = 0.0  # second-best BM25 score
    dense_top_doc: str | None = None  # document of the best dense chunk
    keyword_top_doc: str | None = None  # document of the best BM25 chunk
    # The passage fusion ranked first, where subject_order put another passage of its
    # document first: what the confidence model reads (it was fitted on that passage).
    fused_first: Passage | None = None


def search(
    index: Version,
    query_vector: np.ndarray,
    query_tokens: list[str],
    limit: int,
    settings: SearchSettings | None = None,
) -> list[Passage]:
    """Top ``limit`` passages, best first, overlapping neighbours merged into one.

    Only the fusion candidates are scored and read: the cost of a question does
    not grow with the index beyond what FAISS and BM25 themselves need.
    """
    return search_with_signals(index, query_vector, query_tokens, limit, settings)[0]


def search_with_signals(
    index: Version,
    query_vector: np.ndarray,
    query_tokens: list[str],
    limit: int,
    settings: SearchSettings | None = None,
) -> tuple[list[Passage], SearchSignals]:
    """:func:`search`, plus the :class:`SearchSignals` of its candidate lists."""
    settings = (settings or SearchSettings()).for_question(query_tokens)
    if index.size == 0:
        return [], SearchSignals()
    # the two searches overlap: FAISS (or the engine) on a thread beside, BM25 here
    dense = threads.beside().submit(index.dense_candidates, query_vector, settings.candidates)
    kw_scores, kw_ids = index.keyword_candidates(query_tokens, settings.candidates)
    dense_scores, dense_ids = dense.result()
    fused = fuse(dense_ids, dense_scores, kw_ids, kw_scores, settings)
    ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
    dense_of = dict(zip(dense_ids.tolist(), dense_scores.tolist(), strict=True))
    rows = index.rows([cid for cid, _ in ranked[: max(limit * 4, settings.subject_depth)]])
    fused_first = None
    if settings.fusion == "weighted":
        keyword_of = dict(zip(kw_ids.tolist(), kw_scores.tolist(), strict=True))
        ordered = subject_order(index, ranked, rows, query_tokens, keyword_of, settings)
        if ordered[:1] != ranked[:1]:
            fused_first = _merge(rows, ranked, dense_of, limit, settings.max_merged_chars)[0]
        ranked = ordered
    passages = _merge(rows, ranked, dense_of, limit, settings.max_merged_chars)
    if len(passages) < limit and len(ranked) > limit * 4:  # many neighbours merged: read on
        rows.update(index.rows([cid for cid, _ in ranked[limit * 4 :]]))
        passages = _merge(rows, ranked, dense_of, limit, settings.max_merged_chars)
    signals = _signals(rows, dense_ids, dense_scores, kw_ids, kw_scores)
    return passages, replace(signals, fused_first=fused_first)


def subject_order(
    index: Version,
    ranked: list[tuple[int, float]],
    rows: dict[int, ChunkRow],
    tokens: list[str],
    keyword_of: dict[int, float],
    settings: SearchSettings,
) -> list[tuple[int, float]]:
    """``ranked`` with the top document's chunks among its first ``subject_depth`` ranks
    reordered by a score whose question words found in the document's title weigh
    ``subject_weight`` of their BM25 share.

    Those words are the document's subject: the chunks that repeat them outrank the one
    that says what the question asks (`北京2019年工作要点中对雄安新区医疗卫生方面…` found
    the work plan's summary, not the paragraph on its hospitals). Only the order of that
    document's chunks changes: every other document keeps its ranks, and each rank its
    fused score. Runs only when the question shares words with the top document's title,
    keeps others, and that document holds two of the first ``subject_depth`` ranks; then
    the title words' BM25 share of those few chunks is read from their postings
    (``Version.keyword_weights``), not searched for.
    """
    head = ranked[: settings.subject_depth]
    top = rows.get(head[0][0]) if head else None
    doc = index.document(top.doc_id) if top else None
    if doc is None:
        return ranked
    title = set(tokenize(search_key(doc.title)))
    subject = [t for t in tokens if t in title]
    places = [i for i, (cid, _) in enumerate(head) if _doc_of(rows, cid) == doc.doc_id]
    if not subject or len(subject) == len(tokens) or len(places) < 2:
        return ranked
    scored = [head[i][0] for i in places if head[i][0] in keyword_of]  # fused with BM25
    share = index.keyword_weights(subject, scored)
    top_kw = max(keyword_of.values(), default=0.0) or 1.0
    discount = (1 - settings.dense_weight) * (1 - settings.subject_weight) / top_kw

    def within(item: tuple[int, float]) -> float:
        cid, fused = item
        # never more than the BM25 part its fused score holds: Milvus's bm25 mode analyses
        # the words it is given anew, so the title's words alone need not score as a part
        return fused - discount * min(share.get(cid, 0.0), keyword_of.get(cid, 0.0))

    chunks = sorted((head[i] for i in places), key=within, reverse=True)
    reordered = list(ranked)
    for i, (cid, _) in zip(places, chunks, strict=True):
        reordered[i] = (cid, ranked[i][1])
    return reordered


def _doc_of(rows: dict[int, ChunkRow], cid: int) -> str | None:
    row = rows.get(cid)
    return row.doc_id if row is not None else None


def _signals(
    rows: dict[int, ChunkRow],
    dense_ids: np.ndarray,
    dense_scores: np.ndarray,
    kw_ids: np.ndarray,
    kw_scores: np.ndarray,
) -> SearchSignals:
    def doc(ids: np.ndarray) -> str | None:  # the best chunks score high, so their rows are read
        row = rows.get(int(ids[0])) if len(ids) else None
        return row.doc_id if row is not None else None

    return SearchSignals(
        dense_top=float(dense_scores[0]) if len(dense_scores) else 0.0,
        dense_median=float(np.median(dense_scores)) if len(dense_scores) else 0.0,
        keyword_top=float(kw_scores[0]) if len(kw_scores) else 0.0,
        keyword_second=float(kw_scores[1]) if len(kw_scores) > 1 else 0.0,
        dense_top_doc=doc(dense_ids),
        keyword_top_doc=doc(kw_ids),
    )


def _merge(
    rows: dict[int, ChunkRow],
    ranked: list[tuple[int, float]],
    dense_of: dict[int, float],
    limit: int,
    max_chars: int,
) -> list[Passage]:
    passages: list[Passage] = []
    for cid, score in ranked:
        if len(passages) >= limit:
            break
        chunk = rows.get(cid)
        if chunk is None:  # not read yet, or collected after a newer version went live
            continue
        start, end = chunk.start, chunk.end
        home = _overlapping(passages, chunk.doc_id, start, end, touching=True)
        if home is not None:
            if max(home.end, end) - min(home.start, start) <= max_chars:
                home.start, home.end = min(home.start, start), max(home.end, end)
                home.chunks.append(chunk)
                home.dense = max(home.dense, dense_of.get(cid, -1.0))
                continue
            # too long to merge: show the part not shown yet (neighbours share a sentence)
            start, end = (home.end, end) if end > home.end else (start, home.start)
            if end - start < MIN_REST_CHARS or _overlapping(passages, chunk.doc_id, start, end):
                continue
        passages.append(Passage(chunk.doc_id, start, end, score, dense_of.get(cid, -1.0), [chunk]))
    return passages


MIN_REST_CHARS = 50  # a shorter remainder of a chunk is not worth a result of its own


def _overlapping(
    passages: list[Passage], doc_id: str, start: int, end: int, touching: bool = False
) -> Passage | None:
    """The first passage of ``doc_id`` that shares text with ``start:end`` (or touches it)."""
    if touching:
        start, end = start - 1, end + 1
    return next(
        (p for p in passages if p.doc_id == doc_id and start < p.end and end > p.start),
        None,
    )
