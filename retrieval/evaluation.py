"""Retrieval quality on question sets with gold documents.

Queries are JSON lines in the format of ``shared/eval/*/queries.jsonl``:
``{"qid", "question", "answers": [...], "doc_id"}``; ``doc_id`` null (and no
answers) marks a question the corpus cannot answer, which should come back
not confident.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from corpus.normalize import search_key
from retrieval.answer import Result
from retrieval.backends.local.bm25 import KeywordIndex
from retrieval.engine import AnswerEngine
from retrieval.errors import RetrievalError
from retrieval.query.search import SearchSettings
from retrieval.tokens import bigram_tokens

MODES = ("hybrid", "dense", "keyword", "bigram-bm25")
_EDGES = " \t\n。，、；：！？,.;:!?「」『』“”\"'（）()"  # not part of an answer


@dataclass(frozen=True)
class Query:
    qid: str
    question: str
    answers: tuple[str, ...]
    doc_id: str | None


def read_queries(path: Path) -> list[Query]:
    """Parse a queries file; a malformed line is one clear error naming file and line."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise RetrievalError(f"cannot read queries file {path}: {exc.strerror}") from None
    queries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            queries.append(
                Query(
                    str(record.get("qid", number)),
                    str(record["question"]),
                    tuple(record.get("answers") or ()),
                    record.get("doc_id"),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise RetrievalError(f"{path}:{number}: not a query record ({exc})") from None
    if not queries:
        raise RetrievalError(f"no queries in {path}")
    return queries


@dataclass
class EvalReport:
    mode: str
    queries: int
    answerable: int
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float
    answer_in_excerpts: float | None  # share of answerable queries whose answer is shown
    answer_in_marked: float | None  # ... whose top result is gold and marks the answer
    marked_chars: float | None  # mean length of the top result's marked text
    answerable_confident: float | None
    unanswerable: int
    unanswerable_not_confident: float | None
    p50_ms: float
    p95_ms: float
    skipped_empty: int = 0  # questions with no text, left out of every figure

    def to_json(self) -> dict:
        return asdict(self)


def marked_text(result: Result) -> str:
    """The marked sentence(s) of a result, joined."""
    return "".join(result.excerpt[a:b] for a, b in result.marks)


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """Whether ``text`` holds one of the answers, compared as search keys (so a traditional
    answer matches a simplified text), punctuation around an answer ignored."""
    key = search_key(text)
    cores = (search_key(a).strip(_EDGES) for a in answers)
    return any(core and core in key for core in cores)


def _doc_ranking(chunk_scores: np.ndarray, chunk_docs: list[str], depth: int) -> list[str]:
    order = np.argsort(-chunk_scores, kind="stable")
    seen: list[str] = []
    for i in order:
        if chunk_scores[i] <= 0:
            break
        if chunk_docs[i] not in seen:
            seen.append(chunk_docs[i])
            if len(seen) == depth:
                break
    return seen


def evaluate(
    engine: AnswerEngine,
    queries: list[Query],
    mode: str = "hybrid",
    shown: int = 5,
    on_progress: Callable[[int], None] = lambda _n: None,
    filters=None,
) -> EvalReport:
    """Rank documents for every query; hits are counted by gold ``doc_id``; ``filters``
    (retrieval.filters.Filters): every question asked under them."""
    if mode not in MODES:
        raise RetrievalError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    depth = 10
    index = engine.index
    baseline, chunk_docs = None, []
    if mode == "bigram-bm25":  # a plain baseline, built in memory from the store's chunks
        rows = list(index.chunk_texts())
        chunk_docs = [doc_id for _cid, doc_id, _text in rows]
        baseline = KeywordIndex.build([bigram_tokens(search_key(t)) for _c, _d, t in rows])
    if mode in ("dense", "keyword"):
        share = 1.0 if mode == "dense" else 0.0
        engine = AnswerEngine(
            engine.index_dir,
            engine.embedder,
            SearchSettings(fusion="weighted", dense_weight=share, latin_dense_weight=share),
            engine.policy,
            backend=engine.backend,
        )

    ranks: list[int | None] = []
    shown_hits: list[bool] = []
    marked_hits: list[bool] = []
    marked_chars: list[int] = []
    confident: list[bool] = []
    abstained: list[bool] = []
    latencies: list[float] = []
    asked = [q for q in queries if re.search(r"\w", q.question)]  # the public sets hold empty ones
    for n, q in enumerate(asked, start=1):
        started = time.perf_counter()
        if baseline is not None:
            scores = baseline.scores(bigram_tokens(search_key(q.question)))
            docs = _doc_ranking(scores, chunk_docs, depth)
            answer = None
        else:
            answer = engine.ask(q.question, top_k=depth, filters=filters)
            docs = list(dict.fromkeys(r.doc_id for r in answer.results))[:depth]
        latencies.append(time.perf_counter() - started)
        if q.doc_id is None:
            if answer is not None:
                abstained.append(not answer.confident)
        else:
            ranks.append(docs.index(q.doc_id) + 1 if q.doc_id in docs else None)
            if answer is not None:
                # Compared as search keys, so a traditional answer matches a simplified excerpt.
                excerpts = [search_key(r.excerpt) for r in answer.results[:shown]]
                shown_hits.append(any(search_key(a) in e for a in q.answers for e in excerpts))
                marked = marked_text(answer.results[0]) if answer.results else ""
                gold_top = bool(answer.results) and answer.results[0].doc_id == q.doc_id
                marked_hits.append(gold_top and contains_answer(marked, q.answers))
                marked_chars.append(len(marked))
                confident.append(answer.confident)
        on_progress(n)
    report = _report(mode, asked, ranks, shown_hits, confident, abstained, latencies)
    report.answer_in_marked = _share(marked_hits)
    report.marked_chars = round(float(np.mean(marked_chars)), 1) if marked_chars else None
    report.skipped_empty = len(queries) - len(asked)
    return report


def _share(values: Iterable[bool]) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else None


def _report(mode, queries, ranks, shown_hits, confident, abstained, latencies) -> EvalReport:
    answerable = len(ranks)

    def recall(k: int) -> float:
        return round(sum(1 for r in ranks if r and r <= k) / answerable, 4) if answerable else 0.0

    mrr = sum(1 / r for r in ranks if r and r <= 10) / answerable if answerable else 0.0
    ms = np.array(latencies) * 1000
    return EvalReport(
        mode=mode,
        queries=len(queries),
        answerable=answerable,
        recall_at_1=recall(1),
        recall_at_5=recall(5),
        recall_at_10=recall(10),
        mrr_at_10=round(mrr, 4),
        answer_in_excerpts=_share(shown_hits),
        answer_in_marked=None,
        marked_chars=None,
        answerable_confident=_share(confident),
        unanswerable=len(queries) - answerable,
        unanswerable_not_confident=_share(abstained),
        p50_ms=round(float(np.percentile(ms, 50)), 1),
        p95_ms=round(float(np.percentile(ms, 95)), 1),
    )
