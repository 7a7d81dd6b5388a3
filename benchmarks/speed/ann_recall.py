"""IVF recall on true e5 vectors against the scale benchmark's derived ones (not a test).

    python -m benchmarks.speed.ann_recall [--eval ../shared/eval] [--work /tmp/qabot-scale]

``benchmarks/speed/scale.py`` cannot embed a million chunks on 2 cores, so its synthetic
chunks get derived vectors (means of real ones). Means crowd together, and IVF
finds neighbours in a crowd harder. This script measures how much that matters, at
the largest size where every vector can be a true one here: the real passages'
chunks plus every distinct sentence of them, each encoded by the model (~16k
vectors, cached in the work folder by ``scale_corpus``, scale.py's helpers). The same number of
derived vectors is built the way scale.py builds them. For each set it prints the
mean cosine of random pairs (how crowded it is) and recall@10 against exact search
of the CMRC trial and DRCD questions, with ms per question (one thread): for
IVF-SQ8 (the product's ANN kind until 2026-11-23, nlist = 4·√n, and with twice
the lists) at several probed shares, and for the product's segment kind (4-bit PQ
fast scan, its best rows rescored with 8-bit codes) at several rescored counts.
``--derived N`` also measures N derived vectors alone (e.g. 250000, one segment).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.speed import scale_corpus

ROOT = Path(__file__).resolve().parents[2]  # the repository


def _recall(search, queries: np.ndarray, truth: np.ndarray, k: int) -> dict:
    """Recall@k of ``search(query, k) -> ids`` against ``truth``, and ms per question."""
    started, found = time.perf_counter(), 0
    for query, want in zip(queries, truth, strict=True):
        found += len(set(search(query, k).tolist()) & set(want.tolist()))
    ms = (time.perf_counter() - started) / len(queries) * 1000
    return {"recall": round(found / (k * len(queries)), 3), "ms": round(ms, 2)}


def recall_table(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> dict:
    import faiss

    from retrieval import threads
    from retrieval.backends.local.segments import Segment, SegmentSettings, write_segment

    n = len(vectors)
    rng = np.random.default_rng(0)
    a, b = rng.choice(n, 3000), rng.choice(n, 3000)
    out = {"n": n, "mean_pair_cos": round(float(np.mean(np.sum(vectors[a] * vectors[b], 1))), 3)}
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, k)
    for per_sqrt in (4, 8):
        nlist = int(per_sqrt * math.sqrt(n))
        ivf = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(vectors.shape[1]),
            vectors.shape[1],
            nlist,
            faiss.ScalarQuantizer.QT_8bit,
            faiss.METRIC_INNER_PRODUCT,
        )
        with threads.for_ingest():
            ivf.train(vectors)
            ivf.add(vectors)
        for share in (16, 8, 4, 2):
            ivf.nprobe = max(1, nlist // share)
            search = lambda q, k, ivf=ivf: ivf.search(q[None], k)[1][0]  # noqa: E731
            out[f"IVF-SQ8 {per_sqrt}√n lists, nlist/{share}"] = _recall(search, queries, truth, k)
    # the product's own kind above the threshold, written and loaded as a segment
    with tempfile.TemporaryDirectory() as folder:
        settings = SegmentSettings(ann_threshold=0)
        ids = np.arange(n, dtype=np.int64)
        with threads.for_ingest():
            write_segment(Path(folder), "s", ids, vectors, [["x"]] * n, settings)
        segment = Segment(Path(folder) / "s")
        for rescore in (1000, 3000, 10000):
            segment.meta["rescore"] = rescore
            figures = _recall(lambda q, k: segment.search_dense(q, k)[1], queries, truth, k)
            out[f"PQ4 fast scan, {rescore} rescored"] = figures
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--eval", default=str(ROOT.parent / "shared" / "eval"), help="shared eval dir")
    p.add_argument("--work", default="/tmp/qabot-scale", help="scale.py's work folder")
    p.add_argument("--questions", type=int, default=200, help="questions per set")
    p.add_argument("--derived", type=int, default=0, metavar="N", help="also N derived vectors")
    args = p.parse_args()
    from corpus.normalize import search_key
    from embeddings.model import load_embedder
    from retrieval import threads

    threads.for_serving()  # searches run on one thread, as in a serving process
    embedder = load_embedder()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    real = scale_corpus.real_documents(Path(args.eval))
    chunk_vectors = scale_corpus.real_vectors(work, real, embedder)
    source = scale_corpus.real_sentences(real)
    sentences = list(source)
    by_sentence = scale_corpus.sentence_vectors(work, sentences, embedder)
    rows = scale_corpus.questions(Path(args.eval), args.questions)
    queries = embedder.encode_queries([search_key(r["question"]) for r in rows])

    true = np.stack([*chunk_vectors.values(), *by_sentence.values()]).astype(np.float32)
    derive = scale_corpus.Derivation(source, chunk_vectors, by_sentence)
    _, derived = scale_corpus.synthetic_corpus(sentences, derive, len(true) - len(chunk_vectors))
    made = np.stack([*chunk_vectors.values(), *derived.values()]).astype(np.float32)[: len(true)]
    for name, vectors in (("true vectors", true), ("derived vectors (scale.py)", made)):
        print(json.dumps({"set": name, **recall_table(vectors, queries)}, ensure_ascii=False))
    if args.derived:
        del true, made, derived
        _, derived = scale_corpus.synthetic_corpus(
            sentences, derive, args.derived - len(chunk_vectors)
        )
        made = np.stack([*chunk_vectors.values(), *derived.values()]).astype(np.float32)
        del derived
        table = recall_table(made, queries)
        print(json.dumps({"set": "derived vectors (scale.py)", **table}, ensure_ascii=False))


if __name__ == "__main__":
    main()
