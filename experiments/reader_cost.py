"""What a sentence-level "reader" signal for confidence would cost a question.

The signal (issue 11, fourth round; see docs/quality.md) is the e5 cosine of the question to
the sentences of the top passage: the question's vector is already computed by ``ask``; the
sentences (at most ``--sentences``, the ones holding the most IDF of the question's words, each
cut at 160 characters) are encoded in one batch. Every question is asked with the signal off
and on, alternating which goes first (drift cancels), in one process, on one torch thread as
the bot serves. Prints p50/p95 of ``ask`` off and on, with their ratio, for three designs:

* ``all``: every sentence of the top passage (up to ``--max-all``), every question;
* ``top``: the ``--sentences`` best-by-words sentences, every question;
* ``cascade``: ``top``, only when the shipped model's probability lies in ``--band``
  (the rest pay nothing); also the share of questions that pay.

    python -m experiments.reader_cost --index /tmp/cmrc \\
        --queries ../shared/eval/cmrc2018-trial/queries.jsonl --limit 200
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from corpus.normalize import search_key
from retrieval.engine import AnswerEngine
from retrieval.evaluation import read_queries
from retrieval.query.confidence import _SENTENCE_END, content_words

CUT = 160  # characters kept of each sentence


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def sentences(engine: AnswerEngine, question: str, excerpt: str, keep: int) -> list[str]:
    """The ``keep`` sentences of the excerpt holding the most IDF of the question's words."""
    idf = engine.index.idf
    words = {w: idf(w) for w in dict.fromkeys(content_words(search_key(question)))}
    found = [s.strip()[:CUT] for s in _SENTENCE_END.split(excerpt) if s.strip()]
    return sorted(found, key=lambda s: -sum(v for w, v in words.items() if w in search_key(s)))[
        :keep
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--sentences", type=int, default=3, help="sentences encoded (top)")
    parser.add_argument("--max-all", type=int, default=12, help="sentences encoded at most (all)")
    parser.add_argument("--band", type=float, nargs=2, default=(0.4, 0.8), metavar=("LO", "HI"))
    args = parser.parse_args()
    engine = AnswerEngine.open(args.index)
    questions = [q.question for q in read_queries(args.queries) if q.question.strip()]
    questions = questions[: args.limit]
    last = {}
    encode_queries = engine.embedder.encode_queries

    def keep_vector(texts):
        last["vector"] = vectors = encode_queries(texts)
        return vectors

    engine.embedder.encode_queries = keep_vector
    lo, hi = args.band

    def ask(question: str, design: str) -> tuple[float, int]:
        """Milliseconds for ``ask`` plus the reader step; the sentences encoded."""
        start = time.perf_counter()
        answer = engine.ask(question)
        texts: list[str] = []
        if design != "off" and answer.results:
            paying = design != "cascade" or lo <= answer.probability < hi
            keep = args.max_all if design == "all" else args.sentences
            if paying:
                texts = sentences(engine, question, answer.results[0].excerpt, keep)
        if texts:
            cosines = engine.embedder.encode_sentences(texts) @ last["vector"][0]
            max(cosines.tolist())
        return (time.perf_counter() - start) * 1000, len(texts)

    designs = ("all", "top", "cascade")
    for q in questions[:5]:  # warm up every path
        for design in ("off", *designs):
            ask(q, design)
    off: dict[str, list[float]] = {d: [] for d in designs}
    on: dict[str, list[float]] = {d: [] for d in designs}
    encoded: dict[str, list[int]] = {d: [] for d in designs}
    for i, q in enumerate(questions):
        for design in designs:
            for reader in (False, True) if (i + len(design)) % 2 else (True, False):
                took, n = ask(q, design if reader else "off")
                (on if reader else off)[design].append(took)
                if reader:
                    encoded[design].append(n)
    out: dict[str, object] = {"questions": len(questions), "band": [lo, hi]}
    for d in designs:
        out[d] = {
            "ask_ms_off_p50_p95": [round(pct(off[d], 0.5), 1), round(pct(off[d], 0.95), 1)],
            "ask_ms_on_p50_p95": [round(pct(on[d], 0.5), 1), round(pct(on[d], 0.95), 1)],
            "on_over_off_p50": round(pct(on[d], 0.5) / pct(off[d], 0.5), 3),
            "on_minus_off_mean_ms": round(statistics.fmean(on[d]) - statistics.fmean(off[d]), 1),
            "share_paying": round(sum(n > 0 for n in encoded[d]) / len(questions), 3),
            "sentences_mean_when_paying": round(
                statistics.fmean([n for n in encoded[d] if n] or [0]), 2
            ),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
