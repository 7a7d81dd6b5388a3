"""BM25 alone with each keyword tokenizer, over whole passages of the shared sets.

    python -m benchmarks.quality.tokenizer_compare [--eval-dir ../shared/eval]

Chooses the tokenizer for the keyword index (retrieval/keywords.py): bigram,
jieba search mode, or both.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from corpus.normalize import search_key
from retrieval.backends.local.bm25 import KeywordIndex
from retrieval.tokens import TOKENIZERS, tokenize

SETS = ("cmrc2018-trial", "drcd_s2-test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    args = parser.parse_args()
    for name in SETS:
        folder = args.eval_dir / name
        docs = [json.loads(x) for x in (folder / "corpus.jsonl").read_text("utf-8").splitlines()]
        queries = [
            json.loads(x) for x in (folder / "queries.jsonl").read_text("utf-8").splitlines()
        ]
        position = {d["doc_id"]: i for i, d in enumerate(docs)}
        keys = [search_key(d["text"]) for d in docs]
        for mode in TOKENIZERS:
            started = time.perf_counter()
            index = KeywordIndex([tokenize(k, mode) for k in keys])
            ranks = []
            for q in queries:
                order = np.argsort(-index.scores(tokenize(search_key(q["question"]), mode)))[:10]
                hit = np.flatnonzero(order == position[q["doc_id"]])
                ranks.append(int(hit[0]) + 1 if len(hit) else None)
            n = len(ranks)
            r1 = sum(r == 1 for r in ranks) / n
            r5 = sum(1 for r in ranks if r and r <= 5) / n
            mrr = sum(1 / r for r in ranks if r) / n
            print(
                f"{name:16} {mode:7} R@1 {r1:.3f}  R@5 {r5:.3f}  MRR@10 {mrr:.3f}  "
                f"({time.perf_counter() - started:.1f} s)"
            )


if __name__ == "__main__":
    main()
