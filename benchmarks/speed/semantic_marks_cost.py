"""What the opt-in semantic tie-break of marking (``QABOT_SEMANTIC_MARKS=1``) costs a question.

Asks every question twice in one process, with the tie-break off and on (alternating which
goes first, so drift cancels), on one torch thread as the bot serves, and prints:

* p50/p95 of ``ask`` off and on, and their ratio;
* the time spent in the tie-break's model call per question (0 where no close tie),
  p50/p95/mean over all questions and the mean over those that made the call;
* the share of questions that made the call.

English questions (no Chinese character) are marked by meaning whether the tie-break is on
or not, so on English sets both columns pay the model call and its time is the cost of
marking them:

    python -m benchmarks.speed.semantic_marks_cost --index /tmp/seed-index \
        --queries tests/data/seed_english.jsonl tests/data/seed_english_heldout.jsonl

    python -m benchmarks.speed.semantic_marks_cost --index /tmp/cmrc \\
        --queries ../shared/eval/cmrc2018-trial/queries.jsonl --limit 200
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from retrieval.engine import AnswerEngine
from retrieval.evaluation import read_queries


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=Path, nargs="+", required=True)
    parser.add_argument("--limit", type=int, default=200)
    args = parser.parse_args()
    engine = AnswerEngine.open(args.index)
    questions = [q.question for path in args.queries for q in read_queries(path)]
    questions = [q for q in questions if q.strip()]
    questions = questions[: args.limit]
    spent: list[float] = []  # seconds in the model call, this question
    encode = engine.embedder.encode_sentences

    def timed(texts):
        start = time.perf_counter()
        try:
            return encode(texts)
        finally:
            spent.append(time.perf_counter() - start)

    engine.embedder.encode_sentences = timed
    for q in questions[:5]:  # warm up both paths
        engine.semantic_marks = False
        engine.ask(q)
        engine.semantic_marks = True
        engine.ask(q)
    off, on, call, calls = [], [], [], 0
    for i, q in enumerate(questions):
        for semantic in (False, True) if i % 2 else (True, False):
            engine.semantic_marks = semantic
            spent.clear()
            start = time.perf_counter()
            engine.ask(q)
            took = time.perf_counter() - start
            (on if semantic else off).append(took * 1000)
            if semantic:
                call.append(sum(spent) * 1000)
                calls += bool(spent)
    made = [c for c in call if c > 0]
    print(
        json.dumps(
            {
                "questions": len(questions),
                "ask_ms_off_p50_p95": [round(pct(off, 0.5), 1), round(pct(off, 0.95), 1)],
                "ask_ms_on_p50_p95": [round(pct(on, 0.5), 1), round(pct(on, 0.95), 1)],
                "on_over_off_p50": round(pct(on, 0.5) / pct(off, 0.5), 3),
                "tie_break_ms_p50_p95_mean": [
                    round(pct(call, 0.5), 1),
                    round(pct(call, 0.95), 1),
                    round(statistics.fmean(call), 1),
                ],
                "tie_break_ms_mean_when_called": round(statistics.fmean(made), 1) if made else 0,
                "share_called": round(calls / len(questions), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
