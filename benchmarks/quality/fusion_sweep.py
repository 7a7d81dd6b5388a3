"""Compare ways of fusing dense and BM25 rankings on one index and question set.

    python -m benchmarks.quality.fusion_sweep --index /tmp/qabot-eval/drcd \
        --queries ../shared/eval/drcd_s2-test/queries.jsonl [--limit 1000]

With ``--english`` it keeps the questions without a Chinese character and sweeps the dense
weight they get (``latin_dense_weight``); Chinese questions are fused as before:

    python -m benchmarks.quality.fusion_sweep --english --index /tmp/seed-index \
        --queries tests/data/seed_english_heldout.jsonl tests/data/seed_questions_heldout.jsonl

(Build the index first, e.g. with benchmarks/quality/shared_eval.sh or ``python -m bot ingest``.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.engine import AnswerEngine
from retrieval.evaluation import evaluate, read_queries
from retrieval.query.search import SearchSettings
from retrieval.tokens import has_chinese

VARIANTS = {
    "rrf k=60": SearchSettings(fusion="rrf", rrf_k=60),
    "rrf k=20": SearchSettings(fusion="rrf", rrf_k=20),
    "weighted dense 0.2": SearchSettings(fusion="weighted", dense_weight=0.2),
    "weighted dense 0.3 (default)": SearchSettings(fusion="weighted", dense_weight=0.3),
    "weighted dense 0.4": SearchSettings(fusion="weighted", dense_weight=0.4),
    "weighted dense 0.5": SearchSettings(fusion="weighted", dense_weight=0.5),
    "weighted dense 0.7": SearchSettings(fusion="weighted", dense_weight=0.7),
}
ENGLISH = {
    f"english dense {w}{' (default)' if w == SearchSettings().latin_dense_weight else ''}": (
        SearchSettings(latin_dense_weight=w)
    )
    for w in (0.3, 0.5, 0.7, 0.8, 0.9, 1.0)
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=Path, nargs="+", required=True)
    parser.add_argument("--limit", type=int, default=0, help="first N questions only")
    parser.add_argument(
        "--english", action="store_true", help="only questions without Chinese; sweep their weight"
    )
    args = parser.parse_args()
    queries = [q for path in args.queries for q in read_queries(path)]
    if args.english:
        queries = [q for q in queries if not has_chinese([q.question])]
    if args.limit:
        queries = queries[: args.limit]
    base = AnswerEngine.open(args.index)
    print(f"{' '.join(map(str, args.queries))} ({len(queries)} questions)")
    for label, settings in (ENGLISH if args.english else VARIANTS).items():
        engine = AnswerEngine(base.index_dir, base.embedder, settings)
        r = evaluate(engine, queries)
        print(
            f"  {label:28} R@1 {r.recall_at_1:.3f}  R@5 {r.recall_at_5:.3f}  "
            f"MRR@10 {r.mrr_at_10:.3f}  answer shown {r.answer_in_excerpts:.3f}"
        )


if __name__ == "__main__":
    main()
