"""Compare ways of fusing dense and BM25 rankings on one index and question set.

    python benchmarks/fusion_sweep.py --index /tmp/qabot-eval/drcd \
        --queries ../shared/eval/drcd_s2-test/queries.jsonl [--limit 1000]

(Build the index first, e.g. with benchmarks/shared_eval.sh or ``python -m bot ingest``.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.engine import AnswerEngine
from retrieval.evaluation import evaluate, read_queries
from retrieval.search import SearchSettings

VARIANTS = {
    "rrf k=60": SearchSettings(fusion="rrf", rrf_k=60),
    "rrf k=20": SearchSettings(fusion="rrf", rrf_k=20),
    "weighted dense 0.2": SearchSettings(fusion="weighted", dense_weight=0.2),
    "weighted dense 0.3 (default)": SearchSettings(fusion="weighted", dense_weight=0.3),
    "weighted dense 0.4": SearchSettings(fusion="weighted", dense_weight=0.4),
    "weighted dense 0.5": SearchSettings(fusion="weighted", dense_weight=0.5),
    "weighted dense 0.7": SearchSettings(fusion="weighted", dense_weight=0.7),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=0, help="first N questions only")
    args = parser.parse_args()
    queries = read_queries(args.queries)
    if args.limit:
        queries = queries[: args.limit]
    base = AnswerEngine.open(args.index, build_if_missing=False)
    print(f"{args.queries} ({len(queries)} questions)")
    for label, settings in VARIANTS.items():
        engine = AnswerEngine(base.index_dir, base.embedder, settings)
        r = evaluate(engine, queries)
        print(
            f"  {label:28} R@1 {r.recall_at_1:.3f}  R@5 {r.recall_at_5:.3f}  "
            f"MRR@10 {r.mrr_at_10:.3f}  answer shown {r.answer_in_excerpts:.3f}"
        )


if __name__ == "__main__":
    main()
