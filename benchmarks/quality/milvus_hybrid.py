"""Fusion in our code versus Milvus's ``hybrid_search`` (WeightedRanker, RRFRanker), on one
Milvus index built by ``python -m bot ingest --backend milvus``.

    QABOT_BACKEND=milvus python -m benchmarks.quality.milvus_hybrid --index /tmp/milvus-eval/cmrc \
        --queries ../shared/eval/cmrc2018-trial/queries.jsonl --limit 300

Each method ranks chunks; a document's rank is where its first chunk appears. Prints Recall@1,
Recall@5 and ms per question for each method, one JSON line each.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from corpus.normalize import search_key
from retrieval.backends import open_backend
from retrieval.backends.milvus.schema import dense_search
from retrieval.engine import shared_embedder
from retrieval.evaluation import read_queries
from retrieval.query.search import SearchSettings, fuse
from retrieval.tokens import tokenize


def doc_ranking(version, chunk_ids: list[int]) -> list[str]:
    rows = version.rows(chunk_ids)
    return list(dict.fromkeys(rows[c].doc_id for c in chunk_ids if c in rows))


def main() -> None:
    from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args()
    version = open_backend(args.index).load()
    embedder = shared_embedder()
    queries = [q for q in read_queries(args.queries) if q.question.strip()][: args.limit]
    settings = SearchSettings()
    methods = ("ours (weighted 0.3/0.7)", "hybrid_search WeightedRanker(0.3, 0.7)", "RRFRanker(60)")
    hits = {m: [0, 0, 0.0] for m in methods}
    for q in queries:
        key = search_key(q.question)
        vector = embedder.encode_queries([key])[0]
        tokens = tokenize(key)
        t0 = time.perf_counter()
        ds, di = version.dense_candidates(vector, settings.candidates)
        ks, ki = version.keyword_candidates(tokens, settings.candidates)
        fused = fuse(di, ds, ki, ks, settings.for_question(tokens))
        ours = [c for c, _ in sorted(fused.items(), key=lambda x: (-x[1], x[0]))][:40]
        rankings = {methods[0]: (ours, time.perf_counter() - t0)}
        weights: dict[int, float] = {}
        for t in tokens:
            entry = version.vocab.get(t)
            if entry:
                weights[entry[0]] = weights.get(entry[0], 0.0) + version.idf(t)
        for name, ranker in ((methods[1], WeightedRanker(0.3, 0.7)), (methods[2], RRFRanker(60))):
            t0 = time.perf_counter()
            requests = [
                AnnSearchRequest(
                    [vector.tolist()],
                    "dense",
                    dense_search(version.manifest.dense_index),
                    settings.candidates,
                    expr=version.filter,
                ),
                AnnSearchRequest(
                    [weights or {0: 1e-9}],
                    "keywords",
                    {"metric_type": "IP"},
                    settings.candidates,
                    expr=version.filter,
                ),
            ]
            hits_ = version.client.hybrid_search(
                version.collection, requests, ranker, limit=40, output_fields=["id"]
            )[0]
            rankings[name] = ([int(h["id"]) for h in hits_], time.perf_counter() - t0)
        for name, (chunks, seconds) in rankings.items():
            docs = doc_ranking(version, chunks)
            hits[name][0] += bool(docs) and docs[0] == q.doc_id
            hits[name][1] += q.doc_id in docs[:5]
            hits[name][2] += seconds
    for name, (r1, r5, seconds) in hits.items():
        n = len(queries)
        print(
            json.dumps(
                {
                    "method": name,
                    "questions": n,
                    "recall_at_1": round(r1 / n, 4),
                    "recall_at_5": round(r5 / n, 4),
                    "ms_per_question": round(seconds / n * 1000, 1),
                },
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
