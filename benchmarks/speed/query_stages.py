"""Where a warm question's time goes, stage by stage, on an existing index (not a test).

    python -m benchmarks.speed.query_stages --index /tmp/qabot-scale/index-250000 [--questions 100]

Opens the index as the product does (``AnswerEngine.open``), wraps the engine's stages
with timers, asks the CMRC trial and DRCD questions of ``benchmarks/speed/scale.py`` one at a
time on one thread after a warm-up, and prints one JSON line: p50/p95/mean per question
and the mean milliseconds of each stage. Stages nest: ``search`` includes ``dense`` and
``keywords`` and ``subject_order`` (the top document's chunks reordered, with its
``keyword_weights`` lookup); ``rows``, ``marking`` and ``off_topic`` come after it.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

import numpy as np

import retrieval.engine as engine_module
import retrieval.query.search as search_module
from benchmarks.speed.scale_corpus import questions
from retrieval.backends.local.version import LocalVersion
from retrieval.threads import set_process_defaults

ROOT = Path(__file__).resolve().parents[2]  # the repository
set_process_defaults()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--index", required=True, help="an index folder")
    p.add_argument("--eval", default=str(ROOT.parent / "shared" / "eval"), help="shared eval dir")
    p.add_argument("--questions", type=int, default=100, help="questions per set")
    args = p.parse_args()

    spent: dict[str, float] = collections.defaultdict(float)

    def timed(owner, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*a, **k):
            started = time.perf_counter()
            try:
                return inner(*a, **k)
            finally:
                spent[label] += time.perf_counter() - started

        setattr(owner, name, wrapper)

    engine = engine_module.AnswerEngine.open(Path(args.index))
    timed(engine.embedder, "encode_queries", "encode")
    timed(engine_module, "tokenize", "tokenize")
    timed(engine_module, "search_with_signals", "search")
    timed(LocalVersion, "dense_candidates", "dense")
    timed(LocalVersion, "keyword_candidates", "keywords")
    timed(search_module, "subject_order", "subject_order")
    timed(engine_module, "question_features", "confidence")
    timed(engine_module, "mark_sentences", "marking")
    timed(engine_module, "off_topic", "off_topic")
    rows = questions(Path(args.eval), args.questions)
    for row in rows[:10]:
        engine.ask(row["question"], top_k=1)
    spent.clear()
    times = []
    for row in rows:
        started = time.perf_counter()
        engine.ask(row["question"], top_k=1)
        times.append(time.perf_counter() - started)
    ms = np.array(times) * 1000
    stages = {k: round(v / len(rows) * 1000, 2) for k, v in spent.items()}
    print(
        json.dumps(
            {
                "chunks": engine.index.total,
                "runtime": engine.embedder.runtime,
                "questions": len(rows),
                "p50_ms": round(float(np.percentile(ms, 50)), 1),
                "p95_ms": round(float(np.percentile(ms, 95)), 1),
                "mean_ms": round(float(ms.mean()), 1),
                "stages_mean_ms": stages,
            }
        )
    )


if __name__ == "__main__":
    main()
