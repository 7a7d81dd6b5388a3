"""What issue 26's seventh-round steps cost per question: ``typed_first`` (a rule's passage
holding what is asked shown first) and ``named_uncovered`` (a feature read off the top
document's passages), timed by asking the same questions with and without them, in turns,
in one process:

    python -m benchmarks.speed.library_steps_cost --index /tmp/lawlib-index2 \\
        --queries tests/data/law_questions_dev.jsonl --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import retrieval.engine as engine_module
from retrieval.engine import AnswerEngine
from retrieval.errors import RetrievalError
from retrieval.evaluation import read_queries


def _pass(engine: AnswerEngine, questions: list[str]) -> list[float]:
    times = []
    for question in questions:
        started = time.perf_counter()
        engine.ask(question)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3, help="turns of each (default 3)")
    args = parser.parse_args()
    try:
        engine = AnswerEngine.open(args.index)
        questions = [q.question for q in read_queries(args.queries) if q.question.strip()]
    except RetrievalError as exc:
        raise SystemExit(f"error: {exc}") from None
    _pass(engine, questions[:10])  # warm the caches
    steps = engine_module.typed_first, engine_module.topic_uncovered
    results: dict[str, list[list[float]]] = {"with": [], "without": []}
    for _ in range(args.rounds):
        engine_module.typed_first, engine_module.topic_uncovered = steps
        results["with"].append(_pass(engine, questions))
        engine_module.typed_first = lambda passages, _lacks, _metas: passages
        engine_module.topic_uncovered = lambda *_args: 0.0
        results["without"].append(_pass(engine, questions))
    engine_module.typed_first, engine_module.topic_uncovered = steps
    summary = {}
    for name, rounds in results.items():
        p50 = statistics.median(statistics.median(r) for r in rounds)
        mean = statistics.median(statistics.fmean(r) for r in rounds)
        summary[name] = (p50, mean)
        print(f"{name:8} p50 {p50:6.1f} ms   mean {mean:6.1f} ms   ({len(questions)} questions)")
    (w50, wmean), (o50, omean) = summary["with"], summary["without"]
    print(f"ratio with/without: p50 {w50 / o50:.3f}, mean {wmean / omean:.3f}")


if __name__ == "__main__":
    main()
