"""Warm end-to-end query latency of the answer core on the shipped corpus.

    python -m benchmarks.speed.query_latency [--rounds 3] [--index DIR]

Builds a fresh index of the shipped corpus in a temporary folder (as the bot's first run
does: ``bot.open_index.build_shipped_index``), or opens ``--index``, then asks every
question of the seed question sets ``rounds`` times (after one warm-up round).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.open_index import build_shipped_index
from retrieval import AnswerEngine, open_backend, shared_embedder

DATA = Path(__file__).resolve().parents[2] / "tests" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--index", type=Path, help="an existing index (default: build one)")
    args = parser.parse_args()
    questions = [
        json.loads(line)["question"]
        for name in ("seed_questions.jsonl", "seed_questions_heldout.jsonl")
        for line in (DATA / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        if args.index:
            engine = AnswerEngine.open(args.index)
            print(f"model load + index load: {time.perf_counter() - started:.1f} s")
        else:
            index_dir = Path(tmp) / "index"
            backend = open_backend(index_dir)
            embedder = shared_embedder()
            build_shipped_index(backend, index_dir, lambda _m: None, embedder)
            engine = AnswerEngine.open(index_dir, embedder, backend=backend)
            print(f"model load + index build: {time.perf_counter() - started:.1f} s")
        for q in questions:
            engine.ask(q)
        times = []
        for _ in range(args.rounds):
            for q in questions:
                started = time.perf_counter()
                engine.ask(q, top_k=5)
                times.append((time.perf_counter() - started) * 1000)
    ms = np.array(times)
    print(
        f"{len(ms)} warm questions (top 5): p50 {np.percentile(ms, 50):.1f} ms, "
        f"p95 {np.percentile(ms, 95):.1f} ms, mean {ms.mean():.1f} ms, max {ms.max():.1f} ms"
    )


if __name__ == "__main__":
    main()
