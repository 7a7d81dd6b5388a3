"""What the confidence features cost per question, against the whole ``ask``.

    python -m benchmarks.speed.confidence_cost --index /tmp/qabot-calib/index-seed \\
        --queries tests/data/seed_questions.jsonl

The features are timed with a cold IDF cache (``ask`` shares its cache with marking), so
the figure is an upper bound.
"""

from __future__ import annotations

import argparse
import time
from functools import lru_cache
from pathlib import Path

from corpus.normalize import search_key
from retrieval.engine import AnswerEngine
from retrieval.evaluation import read_queries
from retrieval.query.confidence import answer_features, content_words, question_features
from retrieval.query.search import search_with_signals
from retrieval.tokens import lucene_idf, tokenize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    args = parser.parse_args()
    engine = AnswerEngine.open(args.index)
    questions = [q.question for q in read_queries(args.queries)]
    for q in questions[:5]:  # warm up
        engine.ask(q)
    asking = features = reading = 0.0
    for q in questions:
        started = time.perf_counter()
        engine.ask(q)
        asking += time.perf_counter() - started
        index, key = engine.index, search_key(q)
        tokens = tokenize(key)
        vector = engine.embedder.encode_queries([key])[0]
        passages, signals = search_with_signals(index, vector, tokens, 10, engine.settings)
        top = passages[0]
        top_key = search_key(index.document(top.doc_id).text[top.start : top.end])
        idf = lru_cache(maxsize=None)(index.idf)
        rarest = float(lucene_idf(1, index.total))
        started = time.perf_counter()
        question_features(key, tokens, top, top_key, signals, idf, rarest)
        features += time.perf_counter() - started
        weights = {w: idf(w) for w in content_words(key)}
        started = time.perf_counter()
        answer_features(key, top_key, weights)  # the answer-reading part alone (warm IDF)
        reading += time.perf_counter() - started
    n = len(questions)
    print(
        f"{n} questions: ask {asking / n * 1000:.1f} ms, features {features / n * 1000:.2f} ms "
        f"({features / asking:.1%} of ask), of which reading the answer "
        f"{reading / n * 1000:.2f} ms ({reading / asking:.2%} of ask)"
    )


if __name__ == "__main__":
    main()
